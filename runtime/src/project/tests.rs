//! Both parsers against a reference: the record read whole into a `serde_json::Value` (JSON),
//! or by the `csv` crate (CSV), and the rules applied to that, field by field.

use super::*;
use proptest::prelude::*;
use std::borrow::Cow;

fn field(name: &str, ty: FieldType, optional: bool) -> Field {
    Field {
        name: name.into(),
        ty,
        optional,
    }
}

fn project(p: &mut Projector, record: &[u8]) -> Result<Vec<Value<'static>>, String> {
    let mut out = b"before".to_vec();
    let result = p.project(record, &mut out);
    if let Err(e) = result {
        assert_eq!(
            out, b"before",
            "a failed record leaves the output as it was"
        );
        return Err(e);
    }
    assert_eq!(&out[..6], b"before");
    let values = decode(&out[6..]).expect("the layout decodes");
    assert_eq!(
        values.len(),
        p.fields().len(),
        "one value per declared field"
    );
    Ok(values
        .into_iter()
        .map(|v| match v {
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Null => Value::Null,
            Value::I64(v) => Value::I64(v),
            Value::F64(v) => Value::F64(v),
            Value::Bool(v) => Value::Bool(v),
        })
        .collect())
}

/// What a declared field's value is, from the whole record parsed the slow way: `Ok(None)` if
/// the field has no value, `Err` if its value is of another type.
type Reference = fn(&Field, Option<&serde_json::Value>) -> Result<Value<'static>, ()>;

fn json_reference(field: &Field, value: Option<&serde_json::Value>) -> Result<Value<'static>, ()> {
    use serde_json::Value as J;
    let value = match value {
        None | Some(J::Null) if field.optional => return Ok(Value::Null),
        None | Some(J::Null) => return Err(()),
        Some(v) => v,
    };
    match (field.ty, value) {
        (FieldType::I64, J::Number(n)) => n.as_i64().map(Value::I64).ok_or(()),
        (FieldType::F64, J::Number(n)) => Ok(Value::F64(n.as_f64().ok_or(())?)),
        (FieldType::Str, J::String(s)) => Ok(Value::Str(Cow::Owned(s.clone()))),
        (FieldType::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
        _ => Err(()),
    }
}

fn reference(
    fields: &[Field],
    object: &serde_json::Map<String, serde_json::Value>,
    rule: Reference,
) -> Result<Vec<Value<'static>>, ()> {
    fields
        .iter()
        .map(|f| rule(f, object.get(&f.name)))
        .collect()
}

fn fields_strategy() -> impl Strategy<Value = Vec<Field>> {
    let ty = prop_oneof![
        Just(FieldType::I64),
        Just(FieldType::F64),
        Just(FieldType::Str),
        Just(FieldType::Bool)
    ];
    proptest::sample::subsequence(vec!["a", "b", "c", "é"], 1..=4).prop_flat_map(move |names| {
        proptest::collection::vec((ty.clone(), any::<bool>()), names.len()).prop_map(move |types| {
            names
                .iter()
                .zip(types)
                .map(|(n, (ty, optional))| field(n, ty, optional))
                .collect()
        })
    })
}

/// JSON text for one value: every kind, numbers at the edges, strings with escapes.
fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        Just(u64::MAX.to_string()),
        Just("9223372036854775808".to_string()),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(|v| format!("{v:e}")),
        Just("1.0".to_string()),
        Just("-0".to_string()),
        "[a-c\"\\\\é\n]{0,6}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just(r#""\u00e9\ud83d\ude00""#.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("null".to_string()),
        Just("[1,{\"a\":2}]".to_string()),
        Just("{\"a\":1}".to_string()),
        // Edges of the scanner: plain integers at the 18-digit limit and past it, and text
        // that is not JSON at all.
        prop_oneof![
            Just("123456789012345678"),
            Just("-999999999999999999"),
            Just("-9223372036854775808"),
            Just("12345678901234567890"),
            Just("1E+2"),
            Just("0.5e-3"),
            Just("[ ]"),
            Just("{ }"),
            Just("{\"k\":[[],{},[{\"m\":null}]]}"),
            Just("\"tab\\there\""),
        ]
        .prop_map(String::from),
        prop_oneof![
            Just("01"),
            Just("1."),
            Just("1e"),
            Just("-"),
            Just("tru"),
            Just("nul"),
            Just("[1,2}"),
            Just("[1 2]"),
            Just("{\"k\" 1}"),
            Just("{\"k\":1,}"),
            Just("\"a\\qb\""),
            Just("\"a\u{1}b\""),
            Just("\"\\u12\""),
        ]
        .prop_map(String::from),
    ]
}

/// A JSON object as text, keys possibly repeated, with spaces between its tokens.
fn json_object() -> impl Strategy<Value = String> {
    // `\u0061` is `a` written with an escape.
    let key = prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just("é"),
        Just("zz"),
        Just("\\u0061")
    ];
    proptest::collection::vec((key, json_value(), " ?"), 0..7).prop_map(|pairs| {
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v, sp)| format!("{sp}\"{k}\"{sp}:{sp}{v}"))
            .collect();
        format!("{{{}}}", body.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn json_fields_are_what_the_whole_object_holds(
        fields in fields_strategy(),
        text in prop_oneof![
            8 => json_object(),
            1 => json_value(),
            1 => json_object().prop_map(|o| format!("{o} x")),
            1 => json_object().prop_map(|o| o.chars().take(o.chars().count() / 2).collect()),
        ],
    ) {
        let mut p = Projector::new(fields.clone(), Source::Json);
        let got = project(&mut p, text.as_bytes()).map_err(drop);
        let want = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(object)) => reference(&fields, &object, json_reference),
            _ => Err(()),
        };
        prop_assert_eq!(got, want, "{}", text);
    }
}

fn csv_reference(field: &Field, value: Option<&serde_json::Value>) -> Result<Value<'static>, ()> {
    let text = value.and_then(|v| v.as_str()).unwrap_or("");
    if text.is_empty() && field.optional {
        return Ok(Value::Null);
    }
    match field.ty {
        FieldType::Str => Ok(Value::Str(Cow::Owned(text.to_string()))),
        FieldType::I64 => text.trim().parse().map(Value::I64).map_err(drop),
        FieldType::F64 => text.trim().parse().map(Value::F64).map_err(drop),
        FieldType::Bool => text.trim().parse().map(Value::Bool).map_err(drop),
    }
}

/// A CSV row read by the `csv` crate.
fn csv_row(line: &str) -> Vec<String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut row = ::csv::StringRecord::new();
    if !reader.read_record(&mut row).unwrap() {
        row.push_field("");
    }
    row.iter().map(String::from).collect()
}

fn csv_field() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| format!(" {v} ")),
        Just("2.5e3".to_string()),
        Just("true".to_string()),
        Just(String::new()),
        Just(" ".to_string()),
        Just("\"a,b\"".to_string()),
        Just("\"say \"\"hi\"\"\"".to_string()),
        Just("x\ry".to_string()),
        Just("\t+42 ".to_string()),
        Just("-".to_string()),
        Just("- 5".to_string()),
        Just("7+".to_string()),
        Just("\u{3000}7".to_string()),
        Just("999999999999999999".to_string()),
        Just("-9223372036854775808".to_string()),
        "[a-c é]{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn csv_fields_are_what_the_csv_crate_reads(
        fields in fields_strategy(),
        header in proptest::sample::subsequence(vec!["a", "b", "c", "é", "zz"], 1..=5)
            .prop_shuffle(),
        rows in proptest::collection::vec(proptest::collection::vec(csv_field(), 1..6), 1..5),
    ) {
        let header = header.join(",");
        let mut p = Projector::new(fields.clone(), Source::Csv);
        let names = csv_row(&header);
        let missing = fields.iter().any(|f| !f.optional && !names.contains(&f.name));
        prop_assert_eq!(p.header(header.as_bytes()).is_err(), missing, "{}", header);
        if missing {
            return Ok(());
        }
        for row in rows {
            let line = row.join(",");
            let got = project(&mut p, line.as_bytes()).map_err(drop);
            let cells = csv_row(&line);
            let want = if cells.len() == names.len() {
                let object = names
                    .iter()
                    .zip(&cells)
                    .map(|(n, c)| (n.clone(), serde_json::Value::String(c.clone())))
                    .collect();
                reference(&fields, &object, csv_reference)
            } else {
                Err(())
            };
            prop_assert_eq!(got, want, "header {:?} row {:?}", header, line);
        }
    }
}

#[test]
fn errors_name_the_field_and_what_to_do() {
    let fields = vec![
        field("user_id", FieldType::I64, false),
        field("note", FieldType::Str, true),
    ];
    let mut p = Projector::new(fields.clone(), Source::Json);
    let err = project(&mut p, br#"{"note":"x"}"#).unwrap_err();
    assert_eq!(
        err,
        "the required field \"user_id\" is absent; declare it optional to accept such records"
    );
    let err = project(&mut p, br#"{"user_id":null}"#).unwrap_err();
    assert!(err.contains("\"user_id\" is null"), "{err}");
    assert_eq!(
        project(
            &mut p,
            br#"{"user_id":null,"user_id":"x","user_id":[1],"user_id":5}"#
        )
        .unwrap(),
        [Value::I64(5), Value::Null],
        "the last of a key given twice counts"
    );
    let err = project(&mut p, br#"{"user_id":"7"}"#).unwrap_err();
    assert!(
        err.contains("invalid type: string \"7\", expected an integer for the field \"user_id\""),
        "{err}"
    );
    let err = project(&mut p, br#"[1]"#).unwrap_err();
    assert!(err.contains("expected a JSON object"), "{err}");
    assert_eq!(
        project(&mut p, br#"{"user_id":7,"other":[{"deep":1}]}"#).unwrap(),
        [Value::I64(7), Value::Null]
    );

    let mut p = Projector::new(fields, Source::Csv);
    let err = p.header(b"id,note").unwrap_err();
    assert!(err.contains("no column \"user_id\""), "{err}");
    p.header(b"note,user_id").unwrap();
    let err = project(&mut p, b"hi,x7").unwrap_err();
    assert_eq!(err, "the field \"user_id\" is \"x7\", not an integer");
    let err = project(&mut p, b"hi").unwrap_err();
    assert_eq!(err, "CSV row has 1 fields but the header has 2");
    assert_eq!(
        project(&mut p, b",-3").unwrap(),
        [Value::I64(-3), Value::Null]
    );
}

#[test]
fn declarations_are_checked() {
    let f = |name: &str| field(name, FieldType::I64, false);
    assert!(check(&[f("a"), f("b")]).is_ok());
    assert!(
        check(&[f("a"), f("a")])
            .unwrap_err()
            .contains("\"a\" twice")
    );
    assert!(check(&[f("")]).unwrap_err().contains("0 bytes"));
    let many: Vec<Field> = (0..=MAX_FIELDS).map(|i| f(&i.to_string())).collect();
    assert!(check(&many).unwrap_err().contains("more than the 256"));
}
