//! Options that take one of a few names (arch, optimizer, schedule...). Each is an enum
//! declared with `choice!`, which gives it its names and one parser with one message; serde
//! reads and writes it through the same parser (model.json, config.json, checkpoints).
use crate::error::{describe, invalid_option, Result};

/// An enum whose values are chosen by name.
pub trait Choice: Copy + Sized + 'static {
    /// The option it is the value of, as the API names it ("arch").
    const OPTION: &'static str;
    const ALL: &'static [Self];

    fn name(self) -> &'static str;

    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|value| value.name()).collect()
    }

    /// The value called `name`; ERR_INVALID_OPTION listing every name otherwise.
    fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.name() == name)
            .ok_or_else(|| invalid_option(&one_of(&Self::names()), Self::OPTION, &describe(&name.into())))
    }
}

/// `one of "a", "b", "c"`: what a choice expects.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| describe(&(*name).into())).collect();
    format!("one of {}", quoted.join(", "))
}

/// Declares a `Choice` enum: `choice! { pub enum Arch for "arch" { Resnet18 = "resnet18", } }`.
/// It also gets inherent `name` and `parse`, so callers need not import the trait.
macro_rules! choice {
    ($(#[$meta:meta])* $vis:vis enum $name:ident for $option:literal {
        $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(into = "&'static str", try_from = "String")]
        $vis enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $crate::choice::Choice for $name {
            const OPTION: &'static str = $option;
            const ALL: &'static [Self] = &[$($name::$variant,)+];

            fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl $name {
            pub fn name(self) -> &'static str {
                <$name as $crate::choice::Choice>::name(self)
            }

            pub fn parse(name: &str) -> $crate::error::Result<Self> {
                <$name as $crate::choice::Choice>::parse(name)
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> Self {
                value.name()
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::error::Error;

            fn try_from(name: String) -> $crate::error::Result<Self> {
                $name::parse(&name)
            }
        }
    };
}
pub(crate) use choice;
