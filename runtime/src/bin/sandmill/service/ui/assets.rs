//! The static files of the pages (`static/`), compiled into the binary and served under
//! [`STATIC_PREFIX`].

/// Where the pages load their static files from: the server routes `GET /ui/static/NAME` to
/// [`static_asset`]`(NAME)`.
pub const STATIC_PREFIX: &str = "/ui/static/";

/// The static files, by name: content type and bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "sandmill.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/sandmill.css"),
    ),
    (
        "history.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/history.js"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/uPlot.min.css"),
    ),
];

/// The static file `name` (the request path after [`STATIC_PREFIX`], e.g. `sandmill.css`): its
/// content type and bytes, or `None` (a 404) for any other name.
pub fn static_asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, content_type, bytes)| (content_type, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_each_file_the_pages_link_to() {
        let (css, bytes) = static_asset("sandmill.css").unwrap();
        assert!(css.starts_with("text/css"));
        assert!(
            std::str::from_utf8(bytes)
                .unwrap()
                .contains(".state-failed")
        );
        let (js, bytes) = static_asset("uPlot.iife.min.js").unwrap();
        assert!(js.starts_with("text/javascript"));
        assert!(bytes.starts_with(b"/*! https://github.com/leeoniya/uPlot (v1.6.32) */"));
        assert!(static_asset("uPlot.min.css").is_some());
        assert!(static_asset("history.js").is_some());
    }

    #[test]
    fn nothing_else() {
        for name in [
            "",
            "../mod.rs",
            "README.md",
            "uPlot.LICENSE",
            "sandmill.css/",
        ] {
            assert_eq!(static_asset(name), None, "{name:?}");
        }
    }
}
