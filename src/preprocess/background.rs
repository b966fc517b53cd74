//! The colour under transparent pixels: the parameter of the composite step.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The colour that transparent pixels are composited over: `white`, `black` or `#RRGGBB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Background(pub [u8; 3]);

impl Background {
    /// What transformers' `convert_rgb` composites over.
    pub const WHITE: Self = Self([255, 255, 255]);
    pub const BLACK: Self = Self([0, 0, 0]);
}

impl Default for Background {
    fn default() -> Self {
        Self::WHITE
    }
}

impl FromStr for Background {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("`{text}` is not a colour: use white, black or #RRGGBB");
        match text.to_ascii_lowercase().as_str() {
            "white" => Ok(Self::WHITE),
            "black" => Ok(Self::BLACK),
            hex => {
                let digits = hex.strip_prefix('#').filter(|d| d.len() == 6 && d.is_ascii()).ok_or_else(invalid)?;
                let channel = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| invalid());
                Ok(Self([channel(0)?, channel(2)?, channel(4)?]))
            }
        }
    }
}

impl fmt::Display for Background {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::WHITE => f.write_str("white"),
            Self::BLACK => f.write_str("black"),
            Self([r, g, b]) => write!(f, "#{r:02x}{g:02x}{b:02x}"),
        }
    }
}

impl From<Background> for String {
    fn from(background: Background) -> Self {
        background.to_string()
    }
}

impl TryFrom<String> for Background {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}
