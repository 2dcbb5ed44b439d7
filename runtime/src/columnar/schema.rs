//! [`OutputSchema`]: the columns of a Parquet output, as `--output-schema` declares them
//! (`user_id:int64,count:int64,note:string?`), and their Arrow schema.

use arrow_schema::{DataType, Field, Schema};
use std::fmt;
use std::sync::Arc;

/// The type of one output column, and the JSON values it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `int64`: a JSON integer from -2^63 to 2^63-1.
    Int64,
    /// `int32`: a JSON integer from -2^31 to 2^31-1.
    Int32,
    /// `float64` (or `double`): any JSON number.
    Float64,
    /// `bool` (or `boolean`): `true` or `false`.
    Bool,
    /// `string` (or `utf8`): a JSON string.
    String,
}

impl ColumnType {
    /// The type named `name`, if it is one.
    fn parse(name: &str) -> Option<ColumnType> {
        Some(match name {
            "int64" => ColumnType::Int64,
            "int32" => ColumnType::Int32,
            "float64" | "double" => ColumnType::Float64,
            "bool" | "boolean" => ColumnType::Bool,
            "string" | "utf8" => ColumnType::String,
            _ => return None,
        })
    }

    /// Its canonical name in a schema.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int64 => "int64",
            ColumnType::Int32 => "int32",
            ColumnType::Float64 => "float64",
            ColumnType::Bool => "bool",
            ColumnType::String => "string",
        }
    }

    /// Its Arrow type.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::String => DataType::Utf8,
        }
    }
}

/// One column of an [`OutputSchema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// Its name: the record's field; never empty, without `,` or `:`.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// Whether a record may leave the field out or give it as `null` (a `?` after the type).
    pub nullable: bool,
}

/// The columns of a Parquet output, in order: each record is a JSON object with these fields
/// and no others. Written as `name:type[?],…` (`?`: nullable); the types are those of
/// [`ColumnType`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OutputSchema {
    /// Never empty; names are unique.
    columns: Vec<OutputColumn>,
}

impl OutputSchema {
    /// Parses `name:type[?],…`.
    ///
    /// # Errors
    /// What is wrong with the text, naming the column, and what it should look like.
    pub fn parse(text: &str) -> Result<OutputSchema, String> {
        const SHAPE: &str = "write it as name:type[,name:type…], a type being int64, int32, \
                             float64, bool or string, with ? after it if the field may be null \
                             or missing (user_id:int64,note:string?)";
        let mut columns: Vec<OutputColumn> = Vec::new();
        for item in text.split(',') {
            let item = item.trim();
            let Some((name, ty)) = item.split_once(':') else {
                return Err(format!("column {item:?} has no type; {SHAPE}"));
            };
            let (name, ty) = (name.trim(), ty.trim());
            if name.is_empty() {
                return Err(format!("column {item:?} has no name; {SHAPE}"));
            }
            let (ty_name, nullable) = match ty.strip_suffix('?') {
                Some(t) => (t.trim_end(), true),
                None => (ty, false),
            };
            let Some(ty) = ColumnType::parse(ty_name) else {
                return Err(format!(
                    "column {name:?} has unknown type {ty_name:?}; {SHAPE}"
                ));
            };
            if columns.iter().any(|c| c.name == name) {
                return Err(format!("column {name:?} is named twice"));
            }
            columns.push(OutputColumn {
                name: name.to_owned(),
                ty,
                nullable,
            });
        }
        Ok(OutputSchema { columns })
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[OutputColumn] {
        &self.columns
    }

    /// The Arrow schema of the output's files.
    pub fn arrow(&self) -> Arc<Schema> {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.ty.arrow(), c.nullable))
            .collect();
        Arc::new(Schema::new(fields))
    }
}

impl fmt::Display for OutputSchema {
    /// The canonical text: `name:type[?]` joined by `,`, which [`OutputSchema::parse`] reads
    /// back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.columns.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let null = if c.nullable { "?" } else { "" };
            write!(f, "{sep}{}:{}{null}", c.name, c.ty.name())?;
        }
        Ok(())
    }
}

impl TryFrom<String> for OutputSchema {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        OutputSchema::parse(&text)
    }
}

impl From<OutputSchema> for String {
    fn from(schema: OutputSchema) -> String {
        schema.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_parse_to_their_columns_and_print_canonically() {
        // (text, canonical text)
        let cases = [
            (
                "user_id:int64,count:int64,sum_cents:int64",
                "user_id:int64,count:int64,sum_cents:int64",
            ),
            (
                " a : int32 , b:double?, c:boolean ,d:utf8 ?",
                "a:int32,b:float64?,c:bool,d:string?",
            ),
            ("x:float64", "x:float64"),
            ("x.y-z:bool?", "x.y-z:bool?"),
        ];
        for (text, canonical) in cases {
            let schema = OutputSchema::parse(text).unwrap();
            assert_eq!(schema.to_string(), canonical, "{text}");
            assert_eq!(OutputSchema::parse(canonical).unwrap(), schema);
        }
        let schema = OutputSchema::parse("a:int32,b:string?").unwrap();
        assert_eq!(
            schema.columns(),
            [
                OutputColumn {
                    name: "a".into(),
                    ty: ColumnType::Int32,
                    nullable: false
                },
                OutputColumn {
                    name: "b".into(),
                    ty: ColumnType::String,
                    nullable: true
                },
            ]
        );
        let arrow = schema.arrow();
        assert_eq!(arrow.field(0).data_type(), &DataType::Int32);
        assert!(!arrow.field(0).is_nullable());
        assert_eq!(arrow.field(1).data_type(), &DataType::Utf8);
        assert!(arrow.field(1).is_nullable());
    }

    #[test]
    fn bad_schemas_say_what_is_wrong() {
        // (text, part of the error)
        let cases = [
            ("", "column \"\" has no type"),
            ("user_id", "column \"user_id\" has no type"),
            (":int64", "has no name"),
            ("a:int64,", "column \"\" has no type"),
            ("a:int", "column \"a\" has unknown type \"int\""),
            ("a:int64??", "unknown type \"int64?\""),
            ("a:int64,a:string", "column \"a\" is named twice"),
        ];
        for (text, expected) in cases {
            let err = OutputSchema::parse(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_schema_is_json_as_its_text() {
        let schema = OutputSchema::parse("a:int64,b:string?").unwrap();
        let json = serde_json::to_string(&schema).unwrap();
        assert_eq!(json, "\"a:int64,b:string?\"");
        assert_eq!(serde_json::from_str::<OutputSchema>(&json).unwrap(), schema);
        assert!(serde_json::from_str::<OutputSchema>("\"a:int\"").is_err());
    }
}
