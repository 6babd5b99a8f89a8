//! Bytes on the wire as standard base64 strings (`#[serde(with = …)]`).

use base64::Engine;
use serde::{Deserialize, Deserializer, Serializer};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&B64.encode(bytes))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    B64.decode(text.as_bytes())
        .map_err(|e| serde::de::Error::custom(format!("not base64: {e}")))
}
