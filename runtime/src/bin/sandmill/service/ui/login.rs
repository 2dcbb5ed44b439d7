//! `/ui/login`: the form that takes a tenant's token once (the server then keeps it in an
//! `HttpOnly` cookie).

use super::layout::Page;
use maud::{Markup, html};

/// The login page: a form POSTing the field `token` to `/ui/login` (as
/// `application/x-www-form-urlencoded`), with `error` above it when the last try failed.
pub fn login_page(error: Option<&str>) -> Markup {
    let page = Page {
        title: "Log in",
        tenant: None,
        head: html! {},
        refresh: false,
    };
    page.render(html! {
        form.login method="post" action="/ui/login" {
            h1 { "Log in to Sandmill" }
            @if let Some(error) = error {
                p.error #login-error { (error) }
            }
            label for="token" { "Tenant token" }
            input #token type="password" name="token" required autofocus
                autocomplete="current-password" spellcheck="false";
            p.muted {
                "The token " code { "sandmill tenant add" } " printed for your tenant."
            }
            button type="submit" { "Log in" }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_the_token_to_login() {
        let html = login_page(None).into_string();
        assert!(
            html.contains(r#"method="post" action="/ui/login""#),
            "{html}"
        );
        assert!(html.contains(r#"name="token""#), "{html}");
        assert!(!html.contains("login-error"), "{html}");
        assert!(
            !html.contains("Log out"),
            "no navigation before login: {html}"
        );
    }

    #[test]
    fn shows_the_error_escaped() {
        let html = login_page(Some("unknown token <script>alert(1)</script>")).into_string();
        assert!(
            html.contains("unknown token &lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>alert"), "{html}");
    }
}
