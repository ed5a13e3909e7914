//! GB/T 2260 region codes: 2-digit province, 4-digit city, 6-digit county, and 9-digit
//! township codes that extend a county. Regions roll up by prefix.

/// The administrative levels a region code can be read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegionLevel {
    Province,
    City,
    County,
}

impl RegionLevel {
    pub fn digits(self) -> usize {
        match self {
            RegionLevel::Province => 2,
            RegionLevel::City => 4,
            RegionLevel::County => 6,
        }
    }
}

/// The prefix of `code` at `level`, or `None` when the code is too short.
pub fn prefix(code: &str, level: RegionLevel) -> Option<&str> {
    code.get(..level.digits())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn township_rolls_up_to_county_city_province() {
        let t = "330105001";
        assert_eq!(prefix(t, RegionLevel::County), Some("330105"));
        assert_eq!(prefix(t, RegionLevel::City), Some("3301"));
        assert_eq!(prefix(t, RegionLevel::Province), Some("33"));
    }
}
