use serde::{Deserialize, Serialize};

/// One of the three input feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feed {
    Kiosk,
    Slaughter,
    Export,
}

impl Feed {
    pub const ALL: [Feed; 3] = [Feed::Kiosk, Feed::Slaughter, Feed::Export];

    pub fn as_str(self) -> &'static str {
        match self {
            Feed::Kiosk => "kiosk",
            Feed::Slaughter => "slaughter",
            Feed::Export => "export",
        }
    }

    /// The topic the contract names for this feed (configurable in `kafka.topics`).
    pub fn default_topic(self) -> &'static str {
        match self {
            Feed::Kiosk => "kiosk.results",
            Feed::Slaughter => "slaughter.reports",
            Feed::Export => "export.declarations",
        }
    }

    /// The SQL table that holds this feed's accepted events.
    pub fn table(self) -> &'static str {
        match self {
            Feed::Kiosk => "kiosk_results",
            Feed::Slaughter => "slaughter_reports",
            Feed::Export => "export_declarations",
        }
    }

    /// The lead agency that receives this feed's alerts (DOMAIN.md).
    pub fn agency(self) -> &'static str {
        match self {
            Feed::Kiosk => "market_supervision",
            Feed::Slaughter => "agriculture",
            Feed::Export => "customs",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Feed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Feed::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown feed `{s}`: expected kiosk, slaughter or export"))
    }
}
