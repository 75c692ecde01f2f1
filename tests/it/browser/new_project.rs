//! The New project form (issue 7): create a folder from the page and see its card arrive;
//! the clone choice asks for a URL.

use super::{browser, card, open, serve, wait_status};

#[test]
fn a_project_created_from_the_form_gets_a_card() {
    let b = browser!("a_project_created_from_the_form_gets_a_card");
    let (fx, srv) = serve(&["alpha"], "");
    let _log = open(&b, &srv);
    b.wait_count("article.project-card", 1);
    assert!(!b.is_displayed("#new-project"), "the form starts closed");

    b.click("button#new-project-toggle");
    b.wait_el("#new-project");
    b.click("#new-project input[name=kind][value=clone]");
    b.wait_el("#new-project input[name=url]");
    b.click("#new-project input[name=kind][value=create]");
    b.type_into("#new-project input[name=name]", "fresh-one");
    b.click("#new-project button[data-action=create-project]");

    wait_status(&b, "fresh-one", "stopped");
    b.wait_count("article.project-card", 2);
    assert!(fx.root.join("fresh-one").is_dir(), "the folder exists");
    b.wait_el(&card("fresh-one"));
}
