//! Serde for `Option<f64>` values that may be infinite: JSON has no infinity, so the report
//! writes `"inf"` (and `"-inf"`), and `null` for an undefined value. Use it on other files
//! that carry such numbers with `#[serde(with = "fineface_fair::extended_float")]`.

use serde::{Deserialize, Deserializer, Serializer};

/// Serialises `None` and NaN as `null`, infinities as `"inf"`/`"-inf"`, others as numbers.
pub fn serialize<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) if v.is_nan() => serializer.serialize_none(),
        Some(v) if *v == f64::INFINITY => serializer.serialize_str("inf"),
        Some(v) if *v == f64::NEG_INFINITY => serializer.serialize_str("-inf"),
        Some(v) => serializer.serialize_f64(*v),
        None => serializer.serialize_none(),
    }
}

/// The inverse of [`serialize`].
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }
    match Option::<Repr>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Repr::Number(v)) => Ok(Some(v)),
        Some(Repr::Text(t)) => match t.as_str() {
            "inf" => Ok(Some(f64::INFINITY)),
            "-inf" => Ok(Some(f64::NEG_INFINITY)),
            other => Err(serde::de::Error::custom(format!(
                "expected a number, null, \"inf\" or \"-inf\", found \"{other}\""
            ))),
        },
    }
}
