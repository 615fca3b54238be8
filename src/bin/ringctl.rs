//! `ringctl`: asks a running ringd for its status over the control socket, as chronyc asks chronyd.

use std::process::ExitCode;

use clap::Parser;

use ringd::control::client::query;
use ringd::control::command_line::Args;
use ringd::control::paths;
use ringd::control::protocol::{Reply, Request};

fn main() -> ExitCode {
    let args = Args::parse();
    let socket = args.socket.unwrap_or_else(paths::client_socket);
    match query(&socket, Request::from(&args.command)) {
        Ok(Reply::Ok { data, text }) => {
            if args.json {
                match serde_json::to_string_pretty(&data) {
                    Ok(json) => println!("{json}"),
                    Err(err) => {
                        eprintln!("cannot print the reply as JSON: {err}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{text}");
            }
            ExitCode::SUCCESS
        }
        Ok(Reply::Error { error }) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
