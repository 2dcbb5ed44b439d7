//! The frame every page shares: the document head, the stylesheet, the navigation.

use maud::{DOCTYPE, Markup, html};

/// What a page puts in the shared frame.
pub(super) struct Page<'a> {
    /// The `<title>`, before " — Sandmill".
    pub title: &'a str,
    /// The signed-in tenant, shown in the navigation; `None` on the login page (no navigation).
    pub tenant: Option<&'a str>,
    /// Extra `<head>` content: stylesheets and scripts of one page.
    pub head: Markup,
    /// Reload the page every 2 seconds (a job that has not finished).
    pub refresh: bool,
}

impl Page<'_> {
    /// The whole document, with `body` as its main content.
    pub fn render(&self, body: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    @if self.refresh {
                        meta http-equiv="refresh" content="2";
                    }
                    title { (self.title) " — Sandmill" }
                    link rel="stylesheet" href="/ui/static/sandmill.css";
                    (self.head)
                }
                body {
                    header {
                        a.brand href="/ui" { "Sandmill" }
                        @if let Some(tenant) = self.tenant {
                            nav {
                                a href="/ui" { "Jobs" }
                                a href="/ui/history" { "History" }
                            }
                            span.tenant { "tenant " b { (tenant) } }
                            form.logout method="post" action="/ui/logout" {
                                button type="submit" { "Log out" }
                            }
                        }
                    }
                    main { (body) }
                }
            }
        }
    }
}
