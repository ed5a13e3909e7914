//! Real GB/T 2260 codes of the cities and counties the simulated sites live in, with
//! the customs district that receives each city's export declarations.

/// A prefecture-level city (4-digit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct City {
    /// GB/T 2260 city code, e.g. `3301`.
    pub code: &'static str,
    pub name: &'static str,
    /// Customs district code (关区代码) that opens the city's declaration numbers.
    pub customs: &'static str,
}

/// A county-level district (6-digit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct County {
    /// GB/T 2260 county code, e.g. `330102`.
    pub code: &'static str,
    pub name: &'static str,
    /// Index into [`CITIES`].
    pub city: usize,
}

pub const CITIES: [City; 6] = [
    City {
        code: "3301",
        name: "杭州市",
        customs: "2900",
    },
    City {
        code: "3302",
        name: "宁波市",
        customs: "3100",
    },
    City {
        code: "4401",
        name: "广州市",
        customs: "5100",
    },
    City {
        code: "5101",
        name: "成都市",
        customs: "7900",
    },
    City {
        code: "3701",
        name: "济南市",
        customs: "4300",
    },
    City {
        code: "4101",
        name: "郑州市",
        customs: "4600",
    },
];

pub const COUNTIES: [County; 35] = [
    County {
        code: "330102",
        name: "上城区",
        city: 0,
    },
    County {
        code: "330105",
        name: "拱墅区",
        city: 0,
    },
    County {
        code: "330106",
        name: "西湖区",
        city: 0,
    },
    County {
        code: "330108",
        name: "滨江区",
        city: 0,
    },
    County {
        code: "330109",
        name: "萧山区",
        city: 0,
    },
    County {
        code: "330110",
        name: "余杭区",
        city: 0,
    },
    County {
        code: "330111",
        name: "富阳区",
        city: 0,
    },
    County {
        code: "330112",
        name: "临安区",
        city: 0,
    },
    County {
        code: "330203",
        name: "海曙区",
        city: 1,
    },
    County {
        code: "330205",
        name: "江北区",
        city: 1,
    },
    County {
        code: "330206",
        name: "北仑区",
        city: 1,
    },
    County {
        code: "330211",
        name: "镇海区",
        city: 1,
    },
    County {
        code: "330212",
        name: "鄞州区",
        city: 1,
    },
    County {
        code: "440103",
        name: "荔湾区",
        city: 2,
    },
    County {
        code: "440104",
        name: "越秀区",
        city: 2,
    },
    County {
        code: "440105",
        name: "海珠区",
        city: 2,
    },
    County {
        code: "440106",
        name: "天河区",
        city: 2,
    },
    County {
        code: "440111",
        name: "白云区",
        city: 2,
    },
    County {
        code: "440112",
        name: "黄埔区",
        city: 2,
    },
    County {
        code: "440113",
        name: "番禺区",
        city: 2,
    },
    County {
        code: "510104",
        name: "锦江区",
        city: 3,
    },
    County {
        code: "510105",
        name: "青羊区",
        city: 3,
    },
    County {
        code: "510106",
        name: "金牛区",
        city: 3,
    },
    County {
        code: "510107",
        name: "武侯区",
        city: 3,
    },
    County {
        code: "510108",
        name: "成华区",
        city: 3,
    },
    County {
        code: "370102",
        name: "历下区",
        city: 4,
    },
    County {
        code: "370103",
        name: "市中区",
        city: 4,
    },
    County {
        code: "370104",
        name: "槐荫区",
        city: 4,
    },
    County {
        code: "370105",
        name: "天桥区",
        city: 4,
    },
    County {
        code: "370112",
        name: "历城区",
        city: 4,
    },
    County {
        code: "410102",
        name: "中原区",
        city: 5,
    },
    County {
        code: "410103",
        name: "二七区",
        city: 5,
    },
    County {
        code: "410104",
        name: "管城回族区",
        city: 5,
    },
    County {
        code: "410105",
        name: "金水区",
        city: 5,
    },
    County {
        code: "410108",
        name: "惠济区",
        city: 5,
    },
];

/// Indices into [`COUNTIES`] of the counties of city `city`.
pub(crate) fn counties_of(city: usize) -> impl Iterator<Item = usize> {
    COUNTIES
        .iter()
        .enumerate()
        .filter(move |(_, c)| c.city == city)
        .map(|(i, _)| i)
}

/// Place-name words that make site names read like real ones (东风农贸市场…).
pub(crate) const PLACE_WORDS: [&str; 30] = [
    "东风",
    "红旗",
    "胜利",
    "建设",
    "人民",
    "解放",
    "和平",
    "光明",
    "新华",
    "长安",
    "朝阳",
    "幸福",
    "文化",
    "中山",
    "青年",
    "团结",
    "友谊",
    "前进",
    "东湖",
    "西溪",
    "南苑",
    "北站",
    "滨河",
    "新村",
    "花园",
    "城东",
    "城西",
    "城南",
    "城北",
    "四季青",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn county_codes_extend_their_city_code() {
        for county in &COUNTIES {
            assert_eq!(county.code.len(), 6);
            assert!(county.code.bytes().all(|b| b.is_ascii_digit()));
            assert!(
                county.code.starts_with(CITIES[county.city].code),
                "{county:?}"
            );
        }
        for (i, _) in CITIES.iter().enumerate() {
            assert!(counties_of(i).count() >= 2);
        }
    }
}
