//! `h2push cert`: write a development certificate, like the seeds' `generate_cert.py`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use h2push::tls::TlsIdentity;

use crate::CliError;

#[derive(Args)]
pub struct CertArgs {
    /// The directory to write cert.pem and key.pem into (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

pub fn run(args: CertArgs) -> Result<ExitCode, CliError> {
    let identity = TlsIdentity::generate_dev()?;
    let (cert, key) = identity.write_pem(&args.out)?;
    println!("wrote {} and {}", cert.display(), key.display());
    println!("self-signed for localhost, 127.0.0.1 and ::1");
    println!("SPKI SHA-256: {}", identity.spki_sha256_base64());
    println!(
        "use: h2push serve --cert {} --key {}",
        cert.display(),
        key.display()
    );
    Ok(ExitCode::SUCCESS)
}
