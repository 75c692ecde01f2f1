//! `clauster hash-password`: reads a password (twice, without echo, on a terminal; one
//! line when piped) and prints its argon2id PHC string.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use super::fail;
use crate::password;

pub fn run() -> ExitCode {
    let password = if std::io::stdin().is_terminal() {
        let first = match rpassword::prompt_password("Password: ") {
            Ok(p) => p,
            Err(e) => return fail(2, format!("cannot read the password: {e}")),
        };
        let second = match rpassword::prompt_password("Confirm:  ") {
            Ok(p) => p,
            Err(e) => return fail(2, format!("cannot read the password: {e}")),
        };
        if first != second {
            return fail(2, "passwords do not match");
        }
        first
    } else {
        let mut line = String::new();
        if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
            return fail(2, format!("cannot read the password from stdin: {e}"));
        }
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    match password::hash(&password) {
        Ok(h) => {
            println!("{h}");
            ExitCode::SUCCESS
        }
        Err(password::PasswordError::Empty) => fail(2, "empty password"),
        Err(e) => fail(1, e),
    }
}
