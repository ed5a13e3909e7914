//! What the simulated enterprises export, where to, and why an inspection fails.

/// An export product line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExportProduct {
    /// The feed's `product_category`.
    pub category: &'static str,
    /// Harmonized System code (6 digits, as the example carries it).
    pub hs_code: &'static str,
    /// Typical lot size in kg (a container holds 10–27 t).
    pub lot_kg: (f64, f64),
    /// What inspections of this product most often find.
    pub hazards: &'static [&'static str],
}

const fn p(
    category: &'static str,
    hs_code: &'static str,
    lot_kg: (f64, f64),
    hazards: &'static [&'static str],
) -> ExportProduct {
    ExportProduct {
        category,
        hs_code,
        lot_kg,
        hazards,
    }
}

pub(crate) const PRODUCTS: [ExportProduct; 13] = [
    p(
        "frozen_pork",
        "020329",
        (10_000.0, 26_000.0),
        &["veterinary_drug_residue", "microbial_contamination"],
    ),
    p(
        "frozen_chicken",
        "020714",
        (8_000.0, 25_000.0),
        &["veterinary_drug_residue", "microbial_contamination"],
    ),
    p(
        "frozen_fish_fillet",
        "030489",
        (5_000.0, 22_000.0),
        &["veterinary_drug_residue", "heavy_metal"],
    ),
    p(
        "frozen_shrimp",
        "030617",
        (3_000.0, 18_000.0),
        &["veterinary_drug_residue", "sulfite_excess"],
    ),
    p(
        "green_tea",
        "090210",
        (1_000.0, 15_000.0),
        &["pesticide_residue"],
    ),
    p(
        "fresh_garlic",
        "070320",
        (10_000.0, 28_000.0),
        &["pesticide_residue", "mould"],
    ),
    p(
        "fresh_apples",
        "080810",
        (8_000.0, 24_000.0),
        &["pesticide_residue"],
    ),
    p(
        "natural_honey",
        "040900",
        (2_000.0, 20_000.0),
        &["veterinary_drug_residue", "adulteration"],
    ),
    p(
        "canned_mushrooms",
        "200310",
        (5_000.0, 20_000.0),
        &["microbial_contamination", "additive_excess"],
    ),
    p(
        "soy_sauce",
        "210310",
        (6_000.0, 24_000.0),
        &["additive_excess"],
    ),
    p(
        "milled_rice",
        "100630",
        (10_000.0, 27_000.0),
        &["heavy_metal", "pesticide_residue"],
    ),
    p(
        "preserved_vegetables",
        "200599",
        (4_000.0, 18_000.0),
        &["additive_excess", "microbial_contamination"],
    ),
    p(
        "fresh_ginger",
        "091011",
        (8_000.0, 26_000.0),
        &["pesticide_residue", "sulfite_excess"],
    ),
];

/// Findings any product can fail on.
pub(crate) const GENERAL_FINDINGS: [&str; 3] = [
    "labelling_nonconformity",
    "packaging_damage",
    "foreign_matter",
];

/// ISO 3166-1 alpha-2 destinations, weighted like China's food export markets.
pub(crate) const DESTINATIONS: [(&str, u32); 15] = [
    ("HK", 20),
    ("JP", 14),
    ("KR", 10),
    ("US", 10),
    ("MO", 4),
    ("SG", 6),
    ("MY", 6),
    ("TH", 4),
    ("VN", 5),
    ("DE", 5),
    ("NL", 3),
    ("GB", 3),
    ("AU", 4),
    ("RU", 4),
    ("AE", 3),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_schema_patterns() {
        for product in &PRODUCTS {
            assert!((6..=10).contains(&product.hs_code.len()));
            assert!(product.hs_code.bytes().all(|b| b.is_ascii_digit()));
            assert!(product.lot_kg.0 > 0.0 && product.lot_kg.0 < product.lot_kg.1);
            assert!(!product.hazards.is_empty());
        }
        for (code, _) in &DESTINATIONS {
            assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()));
        }
    }
}
