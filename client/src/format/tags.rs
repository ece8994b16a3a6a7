//! The frozen on-disk tags of the enums the catalog stores (docs/format.md, "Stored enums").
//!
//! bincode writes an enum as its variant's index (a varint u32) followed by the variant's data. serde's derive
//! takes that index from the variant's position in the declaration, so inserting a variant anywhere would
//! silently change what every existing db means. These impls write an explicit tag instead, chosen once per
//! variant and never reused: adding a variant can never change an existing file's meaning. The tags equal the
//! positions the first covec's derives wrote, so files of every version decode alike.

use std::fmt;

use serde::de::{self, EnumAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::schema::{DataType, DefaultValue, FunctionKind, IndexKind, Metric};

/// An enum variant's identifier: its stored tag.
struct Tag(u64);

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tag, D::Error> {
        struct TagVisitor;
        impl Visitor<'_> for TagVisitor {
            type Value = Tag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a stored variant tag")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tag, E> {
                Ok(Tag(v))
            }
        }
        d.deserialize_identifier(TagVisitor)
    }
}

/// Serialize and Deserialize for a field-less enum from its table of `Variant = tag`.
macro_rules! frozen_tags {
    ($ty:ident { $($variant:ident = $tag:literal),+ $(,)? }) => {
        impl $ty {
            const STORED: &'static [($ty, u32, &'static str)] =
                &[$(($ty::$variant, $tag, stringify!($variant))),+];
            const NAMES: &'static [&'static str] = &[$(stringify!($variant)),+];

            /// The tag this variant is stored as; frozen (docs/format.md).
            pub fn stored_tag(self) -> u32 {
                match self {
                    $($ty::$variant => $tag),+
                }
            }

            /// Every variant, in tag order.
            pub fn variants() -> impl Iterator<Item = $ty> {
                $ty::STORED.iter().map(|(v, _, _)| *v)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let (_, tag, name) = $ty::STORED.iter().find(|(v, _, _)| v == self).copied()
                    .expect("every variant is in its tag table");
                s.serialize_unit_variant(stringify!($ty), tag, name)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                struct EnumVisitor;
                impl<'de> Visitor<'de> for EnumVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($ty)))
                    }
                    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<$ty, A::Error> {
                        let (tag, variant) = data.variant::<Tag>()?;
                        variant.unit_variant()?;
                        lookup($ty::STORED, &tag, stringify!($ty))
                    }
                }
                d.deserialize_enum(stringify!($ty), $ty::NAMES, EnumVisitor)
            }
        }
    };
}

/// The variant of `table` stored as `tag`.
fn lookup<T: Copy, E: de::Error>(table: &[(T, u32, &str)], tag: &Tag, what: &str) -> Result<T, E> {
    table
        .iter()
        .find(|(_, number, _)| tag.0 == u64::from(*number))
        .map(|(v, _, _)| *v)
        .ok_or_else(|| E::custom(format!("unknown {what} tag {}", tag.0)))
}

// The tables. A new variant takes the next unused number; a number is never reused, even for a variant that is
// removed. Each change here needs a catalog revision (docs/format.md), so older readers refuse it as newer.
// Revision 1 and 2 catalogs hold only the tags below the "revision 3" lines (format.rs checks it).
frozen_tags!(DataType {
    Bool = 0,
    Int8 = 1,
    Int16 = 2,
    Int32 = 3,
    Int64 = 4,
    Float = 5,
    Double = 6,
    VarChar = 7,
    Json = 8,
    FloatVector = 9,
    // revision 3
    Array = 10,
    Geometry = 11,
    Timestamptz = 12,
    Float16Vector = 13,
    BFloat16Vector = 14,
    Int8Vector = 15,
    BinaryVector = 16,
    SparseFloatVector = 17,
});

frozen_tags!(Metric {
    L2 = 0,
    Ip = 1,
    Cosine = 2,
    // revision 3
    Hamming = 3,
    Jaccard = 4,
    Bm25 = 5,
});

frozen_tags!(IndexKind {
    Flat = 0,
    Hnsw = 1,
    HnswSq8 = 2,
    // revision 3
    SparseInverted = 3,
});

// revision 3
frozen_tags!(FunctionKind { Bm25 = 0 });

/// `DefaultValue` carries data: its tag is followed by the value, as for a derived newtype variant.
impl DefaultValue {
    const STORED: &'static [(u32, &'static str)] = &[
        (0, "Bool"),
        (1, "Int"),
        (2, "Float"),
        (3, "Str"),
        (4, "JsonText"),
    ];
    const NAMES: &'static [&'static str] = &["Bool", "Int", "Float", "Str", "JsonText"];

    /// The tag this variant is stored as; frozen (docs/format.md).
    pub fn stored_tag(&self) -> u32 {
        match self {
            DefaultValue::Bool(_) => 0,
            DefaultValue::Int(_) => 1,
            DefaultValue::Float(_) => 2,
            DefaultValue::Str(_) => 3,
            DefaultValue::JsonText(_) => 4,
        }
    }
}

impl Serialize for DefaultValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tag = self.stored_tag();
        let (_, name) = DefaultValue::STORED
            .iter()
            .find(|(t, _)| *t == tag)
            .copied()
            .expect("every variant is in its tag table");
        match self {
            DefaultValue::Bool(b) => s.serialize_newtype_variant("DefaultValue", tag, name, b),
            DefaultValue::Int(i) => s.serialize_newtype_variant("DefaultValue", tag, name, i),
            DefaultValue::Float(x) => s.serialize_newtype_variant("DefaultValue", tag, name, x),
            DefaultValue::Str(t) | DefaultValue::JsonText(t) => {
                s.serialize_newtype_variant("DefaultValue", tag, name, t)
            }
        }
    }
}

impl<'de> Deserialize<'de> for DefaultValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DefaultValue, D::Error> {
        struct DefaultVisitor;
        impl<'de> Visitor<'de> for DefaultVisitor {
            type Value = DefaultValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DefaultValue")
            }
            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<DefaultValue, A::Error> {
                let (tag, variant) = data.variant::<Tag>()?;
                let table: Vec<(u32, u32, &str)> = DefaultValue::STORED
                    .iter()
                    .map(|&(t, name)| (t, t, name))
                    .collect();
                Ok(match lookup(&table, &tag, "DefaultValue")? {
                    0 => DefaultValue::Bool(variant.newtype_variant()?),
                    1 => DefaultValue::Int(variant.newtype_variant()?),
                    2 => DefaultValue::Float(variant.newtype_variant()?),
                    3 => DefaultValue::Str(variant.newtype_variant()?),
                    _ => DefaultValue::JsonText(variant.newtype_variant()?),
                })
            }
        }
        d.deserialize_enum("DefaultValue", DefaultValue::NAMES, DefaultVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bincode_of<T: Serialize>(v: &T) -> Vec<u8> {
        bincode::serde::encode_to_vec(v, bincode::config::standard()).unwrap()
    }

    fn from_bincode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, String> {
        bincode::serde::decode_from_slice(b, bincode::config::standard())
            .map(|(v, _)| v)
            .map_err(|e| e.to_string())
    }

    /// The stored bytes are the tag alone: a varint, one byte below 251.
    #[test]
    fn each_variant_is_stored_as_its_frozen_tag() {
        for (v, tag, _) in DataType::STORED {
            assert_eq!(bincode_of(v), [*tag as u8]);
            assert_eq!(from_bincode::<DataType>(&[*tag as u8]), Ok(*v));
        }
        for (v, tag, _) in Metric::STORED {
            assert_eq!(bincode_of(v), [*tag as u8]);
        }
        for (v, tag, _) in IndexKind::STORED {
            assert_eq!(bincode_of(v), [*tag as u8]);
        }
        for (v, tag, _) in FunctionKind::STORED {
            assert_eq!(bincode_of(v), [*tag as u8]);
        }
        assert_eq!(bincode_of(&DataType::SparseFloatVector), [17]);
        assert_eq!(bincode_of(&Metric::Bm25), [5]);
        assert_eq!(bincode_of(&DataType::FloatVector), [9]);
        assert_eq!(bincode_of(&DefaultValue::Int(-1)), [1, 1]);
        assert_eq!(
            bincode_of(&DefaultValue::JsonText("{}".into())),
            [4, 2, b'{', b'}']
        );
    }

    #[test]
    fn tags_are_unique_and_every_default_value_round_trips() {
        fn unique<T>(table: &[(T, u32, &str)]) -> bool {
            let tags: std::collections::HashSet<u32> = table.iter().map(|(_, t, _)| *t).collect();
            tags.len() == table.len()
        }
        assert!(unique(DataType::STORED));
        assert!(unique(Metric::STORED));
        assert!(unique(IndexKind::STORED));
        assert!(unique(FunctionKind::STORED));
        for v in [
            DefaultValue::Bool(true),
            DefaultValue::Int(i64::MIN),
            DefaultValue::Float(0.25),
            DefaultValue::Str("é".into()),
            DefaultValue::JsonText("[1]".into()),
        ] {
            assert_eq!(from_bincode::<DefaultValue>(&bincode_of(&v)), Ok(v.clone()));
        }
    }

    #[test]
    fn an_unknown_tag_is_an_error_naming_it() {
        let err = from_bincode::<DataType>(&[200]).unwrap_err();
        assert!(err.contains("unknown DataType tag 200"), "{err}");
        assert!(from_bincode::<DefaultValue>(&[9, 0]).is_err());
    }
}
