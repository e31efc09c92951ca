//! Each option's default as help shows it, read from the resolved configuration
//! (config.json's fields) of the standard recipe, and of the notebook recipe where it
//! differs: help never restates a default.
use super::spec::{DefaultText, OptionSpec};
use crate::config::TrainConfig;
use crate::data::source::DataSource;
use crate::train::recipe::Recipe;
use crate::train::run_config::resolved;
use serde_json::Value;

/// "0.003; recipe notebook: 0.005"; `None` for an option that is off unless given.
pub fn default_text(spec: &OptionSpec) -> Option<String> {
    match spec.default {
        DefaultText::None => None,
        DefaultText::Words(words) => Some(words.into()),
        DefaultText::Computed(compute) => Some(compute()),
        DefaultText::Resolved => {
            let standard = resolved_value(Recipe::Standard, spec.name);
            let notebook = resolved_value(Recipe::Notebook, spec.name);
            Some(if standard == notebook { standard } else { format!("{standard}; recipe notebook: {notebook}") })
        }
    }
}

fn resolved_value(recipe: Recipe, name: &str) -> String {
    let data = DataSource::Folders { train: "train".into(), validation: "test".into() };
    let mut config = TrainConfig::new(data, "output".into());
    // With pretrained weights, so that the fine-tuning defaults show.
    config.pretrained = Some("pretrained".into());
    config.apply_recipe(recipe);
    resolved_field(&resolved(&config, 1), name).map_or_else(|| "none".into(), show)
}

/// Option `name`'s field in a resolved configuration (config.json): at the top, or inside
/// "preprocess" (resize, mean, std) or "augment" (cropScale).
pub fn resolved_field<'a>(resolved: &'a Value, name: &str) -> Option<&'a Value> {
    [resolved, &resolved["preprocess"], &resolved["augment"]].into_iter().find_map(|section| section.get(name))
}

/// Numbers at float32's precision (mean and std are float32), strings without quotes.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.as_f64().map_or_else(|| number.to_string(), |n| (n as f32).to_string()),
        Value::Array(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}
