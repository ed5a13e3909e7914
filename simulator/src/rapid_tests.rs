//! What market test rooms test: the commodities on sale, per sample category, and the
//! rapid test (快速检测) each gets, with its method, reading and how often it fails.

use hub_model::kiosk::{SampleCategory, TestItem, TestResult};
use rand::Rng;

use crate::sampling::{pick_weighted, round_to, SimRng};

/// How a rapid test reports.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reading {
    /// Colloidal-gold strips and colour reactions: positive or negative, no number.
    Qualitative,
    /// A number against a limit; above the limit fails.
    Quantitative {
        unit: &'static str,
        limit: f64,
        /// Range of readings that pass, and of readings that fail.
        passing: (f64, f64),
        failing: (f64, f64),
        decimals: i32,
    },
}

/// One rapid test of the catalogue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Assay {
    pub item: TestItem,
    pub method: &'static str,
    pub reading: Reading,
    /// Probability that a sample of an average market fails.
    pub base_fail: f64,
}

/// The value, unit and limit fields of a kiosk result.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Measurement {
    pub value: Option<f64>,
    pub unit: Option<&'static str>,
    pub limit: Option<f64>,
}

impl Assay {
    /// The reading a test with `result` shows.
    pub(crate) fn measure(&self, result: TestResult, rng: &mut SimRng) -> Measurement {
        match (self.reading, result) {
            (Reading::Qualitative, _) | (_, TestResult::Invalid) => Measurement::default(),
            (
                Reading::Quantitative {
                    unit,
                    limit,
                    passing,
                    failing,
                    decimals,
                },
                result,
            ) => {
                let (lo, hi) = if result == TestResult::Fail {
                    failing
                } else {
                    passing
                };
                Measurement {
                    value: Some(round_to(rng.random_range(lo..hi), decimals)),
                    unit: Some(unit),
                    limit: Some(limit),
                }
            }
        }
    }
}

/// Organophosphate and carbamate residues by enzyme inhibition (农药残留速测).
const PESTICIDE: Assay = Assay {
    item: TestItem::OrganophosphateCarbamate,
    method: "enzyme_inhibition",
    reading: Reading::Quantitative {
        unit: "percent_inhibition",
        limit: 50.0,
        passing: (2.0, 45.0),
        failing: (50.5, 92.0),
        decimals: 1,
    },
    base_fail: 0.025,
};

/// Clenbuterol, ractopamine, salbutamol strips (瘦肉精).
const BETA_AGONIST: Assay = Assay {
    item: TestItem::BetaAgonist,
    method: "colloidal_gold",
    reading: Reading::Qualitative,
    base_fail: 0.001,
};

const MALACHITE_GREEN: Assay = Assay {
    item: TestItem::MalachiteGreen,
    method: "colloidal_gold",
    reading: Reading::Qualitative,
    base_fail: 0.012,
};

const FORMALDEHYDE: Assay = Assay {
    item: TestItem::Formaldehyde,
    method: "colorimetric",
    reading: Reading::Quantitative {
        unit: "mg/kg",
        limit: 10.0,
        passing: (0.0, 6.0),
        failing: (10.5, 60.0),
        decimals: 1,
    },
    base_fail: 0.010,
};

const SULFUR_DIOXIDE: Assay = Assay {
    item: TestItem::SulfurDioxide,
    method: "colorimetric",
    reading: Reading::Quantitative {
        unit: "g/kg",
        limit: 0.2,
        passing: (0.0, 0.15),
        failing: (0.21, 1.2),
        decimals: 3,
    },
    base_fail: 0.020,
};

/// Sodium formaldehyde sulfoxylate in noodles and bean curd sticks (吊白块).
const RONGALITE: Assay = Assay {
    item: TestItem::Rongalite,
    method: "colorimetric",
    reading: Reading::Qualitative,
    base_fail: 0.005,
};

const NITRITE: Assay = Assay {
    item: TestItem::Nitrite,
    method: "colorimetric",
    reading: Reading::Quantitative {
        unit: "mg/kg",
        limit: 30.0,
        passing: (1.0, 22.0),
        failing: (31.0, 120.0),
        decimals: 1,
    },
    base_fail: 0.010,
};

/// Veterinary drug residues (enrofloxacin, chloramphenicol…) in poultry and eggs.
const VETERINARY_DRUG: Assay = Assay {
    item: TestItem::Other,
    method: "colloidal_gold",
    reading: Reading::Qualitative,
    base_fail: 0.008,
};

/// A commodity on sale and the test it gets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Commodity {
    pub category: SampleCategory,
    pub name: &'static str,
    pub assay: &'static Assay,
}

const fn c(category: SampleCategory, name: &'static str, assay: &'static Assay) -> Commodity {
    Commodity {
        category,
        name,
        assay,
    }
}

use SampleCategory as S;

/// Commodities with their weight among the samples tested. The category shares are
/// roughly those of market test-room records: vegetables dominate.
const COMMODITIES: [(Commodity, u32); 44] = [
    (c(S::Vegetable, "菠菜", &PESTICIDE), 4),
    (c(S::Vegetable, "韭菜", &PESTICIDE), 4),
    (c(S::Vegetable, "芹菜", &PESTICIDE), 3),
    (c(S::Vegetable, "小白菜", &PESTICIDE), 4),
    (c(S::Vegetable, "油麦菜", &PESTICIDE), 3),
    (c(S::Vegetable, "生菜", &PESTICIDE), 3),
    (c(S::Vegetable, "豇豆", &PESTICIDE), 3),
    (c(S::Vegetable, "黄瓜", &PESTICIDE), 3),
    (c(S::Vegetable, "番茄", &PESTICIDE), 3),
    (c(S::Vegetable, "茄子", &PESTICIDE), 2),
    (c(S::Vegetable, "青椒", &PESTICIDE), 3),
    (c(S::Vegetable, "大白菜", &PESTICIDE), 3),
    (c(S::Vegetable, "空心菜", &PESTICIDE), 2),
    (c(S::Vegetable, "西兰花", &PESTICIDE), 2),
    (c(S::Fruit, "苹果", &PESTICIDE), 2),
    (c(S::Fruit, "葡萄", &PESTICIDE), 2),
    (c(S::Fruit, "草莓", &PESTICIDE), 2),
    (c(S::Fruit, "柑橘", &PESTICIDE), 1),
    (c(S::Fruit, "梨", &PESTICIDE), 1),
    (c(S::Fruit, "桃", &PESTICIDE), 1),
    (c(S::Fruit, "香蕉", &PESTICIDE), 1),
    (c(S::LivestockMeat, "猪肉", &BETA_AGONIST), 7),
    (c(S::LivestockMeat, "猪肝", &BETA_AGONIST), 2),
    (c(S::LivestockMeat, "牛肉", &BETA_AGONIST), 2),
    (c(S::LivestockMeat, "羊肉", &BETA_AGONIST), 2),
    (c(S::LivestockMeat, "酱牛肉", &NITRITE), 2),
    (c(S::LivestockMeat, "腊肉", &NITRITE), 1),
    (c(S::Poultry, "鸡肉", &VETERINARY_DRUG), 3),
    (c(S::Poultry, "鸭肉", &VETERINARY_DRUG), 2),
    (c(S::Poultry, "鸡胗", &VETERINARY_DRUG), 1),
    (c(S::Aquatic, "鲈鱼", &MALACHITE_GREEN), 2),
    (c(S::Aquatic, "草鱼", &MALACHITE_GREEN), 2),
    (c(S::Aquatic, "鲫鱼", &MALACHITE_GREEN), 2),
    (c(S::Aquatic, "黄鳝", &MALACHITE_GREEN), 1),
    (c(S::Aquatic, "鳜鱼", &MALACHITE_GREEN), 1),
    (c(S::Aquatic, "鱿鱼", &FORMALDEHYDE), 2),
    (c(S::Aquatic, "虾仁", &FORMALDEHYDE), 2),
    (c(S::Egg, "鸡蛋", &VETERINARY_DRUG), 3),
    (c(S::Egg, "鸭蛋", &VETERINARY_DRUG), 1),
    (c(S::GrainOil, "米粉", &RONGALITE), 2),
    (c(S::GrainOil, "腐竹", &RONGALITE), 1),
    (c(S::GrainOil, "粉丝", &RONGALITE), 1),
    (c(S::Other, "银耳", &SULFUR_DIOXIDE), 3),
    (c(S::Other, "黄花菜", &SULFUR_DIOXIDE), 3),
];

/// A sample to test, drawn with the catalogue's weights.
pub(crate) fn draw_commodity(rng: &mut SimRng) -> Commodity {
    pick_weighted(rng, &COMMODITIES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_category_has_a_sensible_test() {
        for (commodity, _) in &COMMODITIES {
            let item = commodity.assay.item;
            let fits = match commodity.category {
                S::Vegetable | S::Fruit => item == TestItem::OrganophosphateCarbamate,
                S::LivestockMeat => matches!(item, TestItem::BetaAgonist | TestItem::Nitrite),
                S::Aquatic => matches!(item, TestItem::MalachiteGreen | TestItem::Formaldehyde),
                S::GrainOil => item == TestItem::Rongalite,
                S::Other => item == TestItem::SulfurDioxide,
                S::Poultry | S::Egg => item == TestItem::Other,
            };
            assert!(fits, "{commodity:?}");
        }
    }

    #[test]
    fn readings_sit_on_the_right_side_of_the_limit() {
        let mut rng = SimRng::seed_from_u64(5);
        for assay in [PESTICIDE, FORMALDEHYDE, SULFUR_DIOXIDE, NITRITE] {
            for _ in 0..200 {
                let pass = assay.measure(TestResult::Pass, &mut rng);
                let fail = assay.measure(TestResult::Fail, &mut rng);
                let (Some(p), Some(f), Some(limit)) = (pass.value, fail.value, pass.limit) else {
                    panic!("quantitative assays report a value and a limit");
                };
                assert!(p <= limit && f > limit, "{assay:?}: {p} {f}");
            }
            assert_eq!(
                assay.measure(TestResult::Invalid, &mut rng),
                Measurement::default()
            );
        }
    }
}
