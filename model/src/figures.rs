//! How alert texts write figures, shared by the alert summaries (processors) and the
//! e-mail channel (delivery), so both say "84.9%" and "7h 12m" the same way.

/// A measured ratio: one decimal, two for values under 1 % (`80.0%`, `0.45%`).
pub fn pct(v: f64) -> String {
    if v > 0.0 && v < 0.01 {
        format!("{:.2}%", v * 100.0)
    } else {
        format!("{:.1}%", v * 100.0)
    }
}

/// A bar (a configured threshold): whole percents when whole (`85%`, `0.5%`).
pub fn bar_pct(v: f64) -> String {
    let p = v * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}%", p.round())
    } else {
        format!("{p:.1}%")
    }
}

/// A length of time to the minute: `45m`, `7h 12m`.
pub fn duration(seconds: f64) -> String {
    let m = (seconds / 60.0).round() as i64;
    if m >= 60 {
        format!("{}h {:02}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures() {
        assert_eq!(bar_pct(0.85), "85%");
        assert_eq!(bar_pct(0.005), "0.5%");
        assert_eq!(pct(0.8), "80.0%");
        assert_eq!(pct(0.0045), "0.45%");
        assert_eq!(duration(7.2 * 3600.0), "7h 12m");
        assert_eq!(duration(45.0 * 60.0), "45m");
    }
}
