//! Which of a component's imports Sandmill does not provide, for the message that refuses it.
//!
//! wasmtime's linker reports only the first import it cannot satisfy, wrapped in words about
//! linkers and a missing resource implementation. A plugin built by a toolchain with a feature
//! left on (componentize-js's default features import `wasi:http`) imports several, and its
//! author needs all of their names and what to turn off. So, on the error path only: link
//! again and again, each time with the imports found so far stubbed out, until the rest link.

use super::sandbox::TaskState;
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, LinkerInstance, ResourceType};

/// The imports of `component` that Sandmill's linker does not define (or not with the types
/// the component expects), in the order wasmtime finds them.
pub(super) fn unprovided(engine: &Engine, component: &Component) -> Vec<String> {
    let ty = component.component_type();
    let imports: Vec<(&str, ComponentItem)> = ty
        .imports(engine)
        .map(|(name, import)| (name, import.ty))
        .collect();
    let mut missing: Vec<String> = Vec::new();
    for _ in 0..=imports.len() {
        let Ok(mut linker) = super::linker(engine) else {
            break;
        };
        linker.allow_shadowing(true);
        for name in &missing {
            let Some((_, item)) = imports.iter().find(|(n, _)| n == name) else {
                return missing;
            };
            if stub(engine, &mut linker.root(), name, item).is_err() {
                return missing;
            }
        }
        let Err(err) = linker.instantiate_pre(component) else {
            break;
        };
        match failed_import(&err) {
            Some(name) if !missing.contains(&name) && imports.iter().any(|(n, _)| *n == name) => {
                missing.push(name);
            }
            _ => break,
        }
    }
    missing
}

/// The import an `instantiate_pre` error is about: wasmtime 48 says "component imports
/// instance `NAME`, but a matching implementation was not found in the linker".
fn failed_import(err: &wasmtime::Error) -> Option<String> {
    err.chain().find_map(|cause| {
        let message = cause.to_string();
        let rest = message.strip_prefix("component imports ")?;
        let (_, rest) = rest.split_once('`')?;
        let (name, _) = rest.split_once('`')?;
        Some(name.to_owned())
    })
}

/// Defines `name` in `linker` as `item` would need, with functions that trap.
fn stub(
    engine: &Engine,
    linker: &mut LinkerInstance<'_, TaskState>,
    name: &str,
    item: &ComponentItem,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => linker.func_new(name, |_, _, _, _| {
            wasmtime::bail!("an import Sandmill does not provide")
        }),
        ComponentItem::ComponentInstance(instance) => {
            let mut inner = linker.instance(name)?;
            for (export, item) in instance.exports(engine) {
                stub(engine, &mut inner, export, &item.ty)?;
            }
            Ok(())
        }
        ComponentItem::Resource(_) => {
            linker.resource(name, ResourceType::host::<()>(), |_, _| Ok(()))
        }
        _ => Ok(()),
    }
}

/// What to do about `missing` imports: for the toolchains known to add them, how to build
/// without them.
pub(super) fn hint(missing: &[String]) -> &'static str {
    if missing.iter().any(|name| name.starts_with("sandmill:job/")) {
        "it was built against another version of the sandmill:job contract: rebuild it against \
         this Sandmill's wit/job.wit (`sandmill inspect` on a working plugin shows the version)"
    } else if missing.iter().any(|name| name.starts_with("wasi:http/")) {
        "a plugin gets only sandmill:job/host and WASI 0.2's cli, io, clocks, filesystem, random \
         and sockets interfaces, with nothing granted; componentize-js adds wasi:http unless \
         built with disableFeatures: ['http', 'fetch-event'] (`sandmill build` does this)"
    } else {
        "a plugin gets only sandmill:job/host and WASI 0.2's cli, io, clocks, filesystem, random \
         and sockets interfaces, with nothing granted; build it without what needs the others"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{Limits, Plugin};
    use std::path::Path;

    /// A component importing `imports` (WAT import declarations) and exporting nothing.
    fn component(engine: &Engine, imports: &str) -> Component {
        let bytes = wat::parse_str(format!("(component {imports})")).expect("valid WAT");
        Component::new(engine, bytes).expect("a valid component")
    }

    /// An imported instance with a function and a resource, as a real interface has.
    fn instance(name: &str) -> String {
        format!(
            r#"(import "{name}" (instance
                (export "fields" (type (sub resource)))
                (export "now" (func (result u64)))))"#
        )
    }

    #[test]
    fn names_every_import_the_host_lacks_and_none_it_has() {
        let engine = crate::plugin::engine::engine(false);
        let imports = [
            instance("wasi:http/types@0.2.3"),
            r#"(import "wasi:clocks/monotonic-clock@0.2.3" (instance
                (export "now" (func (result u64)))))"#
                .into(),
            r#"(import "sandmill:job/host@0.1.0" (instance
                (export "counter-add" (func (param "name" string) (param "delta" s64)))))"#
                .into(),
            instance("sandmill:job/host@0.2.0"),
            instance("wasi:http/outgoing-handler@0.2.3"),
            r#"(import "now" (func))"#.into(),
        ]
        .join("\n");
        let missing = unprovided(engine, &component(engine, &imports));
        assert_eq!(
            missing,
            [
                "wasi:http/types@0.2.3",
                "sandmill:job/host@0.2.0",
                "wasi:http/outgoing-handler@0.2.3",
                "now"
            ]
        );
        assert!(unprovided(engine, &component(engine, "")).is_empty());
    }

    #[test]
    fn a_plugin_importing_wasi_http_is_refused_with_the_imports_and_what_to_disable() {
        let wat = format!(
            r#"(component {} {} (import "wasi:cli/stderr@0.2.3" (instance)))"#,
            instance("wasi:http/types@0.2.3"),
            instance("wasi:http/outgoing-handler@0.2.3")
        );
        let bytes = wat::parse_str(wat).unwrap();
        let err = Plugin::from_bytes(Path::new("job.wasm"), &bytes, Limits::default(), None)
            .expect_err("wasi:http is not provided")
            .to_string();
        assert!(
            err.contains(
                "it imports interfaces that Sandmill does not provide: wasi:http/types@0.2.3, \
                 wasi:http/outgoing-handler@0.2.3 ("
            ),
            "{err}"
        );
        assert!(!err.contains("stderr"), "{err}");
        assert!(err.contains("disableFeatures"), "{err}");
        assert!(!err.contains("does not implement"), "{err}");
    }

    #[test]
    fn a_plugin_built_against_another_contract_version_is_told_to_rebuild() {
        let bytes = wat::parse_str(format!(
            "(component {})",
            instance("sandmill:job/host@0.2.0")
        ))
        .unwrap();
        let err = Plugin::from_bytes(Path::new("job.wasm"), &bytes, Limits::default(), None)
            .expect_err("another major version of the contract")
            .to_string();
        assert!(
            err.contains("an interface that Sandmill does not provide: sandmill:job/host@0.2.0"),
            "{err}"
        );
        assert!(err.contains("rebuild it against"), "{err}");
    }

    #[test]
    fn a_plugin_with_every_import_provided_but_no_exports_is_the_wrong_world() {
        let bytes =
            wat::parse_str(r#"(component (import "wasi:cli/stderr@0.2.0" (instance)))"#).unwrap();
        let err = Plugin::from_bytes(Path::new("job.wasm"), &bytes, Limits::default(), None)
            .expect_err("no exports")
            .to_string();
        assert!(err.contains("does not implement"), "{err}");
    }
}
