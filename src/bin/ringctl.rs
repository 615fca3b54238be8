//! `ringctl`: asks a running ringd for its status over the control socket, as chronyc asks chronyd.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use ringd::control::client::query;
use ringd::control::command_line::{Args, Command};
use ringd::control::paths;
use ringd::control::protocol::{Reply, Request};
use ringd::control::wait_sync::{Try, WaitSync};

fn main() -> ExitCode {
    let args = Args::parse();
    let socket = args.socket.clone().unwrap_or_else(paths::client_socket);
    if let Command::Waitsync {
        max_tries,
        max_correction,
        max_skew,
        interval,
    } = args.command
    {
        let wait = WaitSync::new(max_tries, max_correction, max_skew, interval);
        return wait_sync(&socket, &wait, args.csv);
    }
    match query(&socket, Request::from(&args.command)) {
        Ok(Reply::Ok { data, text, csv }) => {
            if args.json {
                match serde_json::to_string_pretty(&data) {
                    Ok(json) => println!("{json}"),
                    Err(err) => {
                        eprintln!("cannot print the reply as JSON: {err}");
                        return ExitCode::FAILURE;
                    }
                }
            } else if let (true, Some(csv)) = (args.csv, csv) {
                print!("{csv}");
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

/// chronyc's waitsync: a try per interval until synchronised (exit 0) or out of tries
/// (exit 1). A try that gets no reply counts, as in chronyc, and says why.
fn wait_sync(socket: &Path, wait: &WaitSync, csv: bool) -> ExitCode {
    for number in 1.. {
        match query(socket, Request::Tracking) {
            Ok(Reply::Ok { data, .. }) => match Try::from_tracking(&data) {
                Some(reading) => {
                    print!("{}", reading.line(number, csv));
                    if wait.is_synchronised(&reading) {
                        return ExitCode::SUCCESS;
                    }
                }
                None => eprintln!("ringd's tracking report lacks the reference or offset"),
            },
            Ok(Reply::Error { error }) => eprintln!("{error}"),
            Err(err) => eprintln!("{err}"),
        }
        if wait.out_of_tries(number) {
            break;
        }
        std::thread::sleep(wait.interval);
    }
    ExitCode::FAILURE
}
