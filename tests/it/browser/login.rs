//! Signing in through the real form, as a browser posts it (with its Origin header and
//! the page's referrer policy), and signing out.

use super::{browser, card, origin, serve};
use crate::auth::auth_yaml;

#[test]
fn signing_in_through_the_form_reaches_the_dashboard_and_log_out_ends_it() {
    let b = browser!("signing_in_through_the_form_reaches_the_dashboard_and_log_out_ends_it");
    let (_fx, srv) = serve(&["alpha"], &auth_yaml(""));
    b.goto(&format!("{}/", origin(&srv)));
    b.wait_el("input#password");
    assert!(b.url().ends_with("/login"), "{}", b.url());
    assert_eq!(b.title(), "clauster — Sign in");

    b.type_into("input#password", "wrong");
    b.click("form button[type=submit]");
    b.wait_text(".alert-danger", "Incorrect password.");

    b.type_into("input#password", "s3cret");
    b.click("form button[type=submit]");
    b.wait_attr("body", "data-conn", "live");
    b.wait_el(&card("alpha"));

    b.click("form[action='/logout'] button[type=submit]");
    b.wait_el("input#password");
    b.goto(&format!("{}/", origin(&srv)));
    b.wait_el("input#password");
}
