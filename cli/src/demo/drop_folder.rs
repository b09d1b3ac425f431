//! The demo's tenants: their drop folders on the embedded FTP server, the
//! files they dropped (good ones in every supported form, and the bad ones
//! ops meet in real life), the secrets they are read with, and the registry
//! that describes them.
//!
//! Everything is made on the first run in a directory and kept: a second run
//! finds the same files on the server, which is what shows that nothing is
//! ingested twice.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;
use tributary::engine::data_key::DataKey;
use tributary::engine::layers::tink_stream::{SEGMENT_SIZE_4KB, TinkStreamWriter};
use tributary::engine::layers::whole_file_gcm;

/// The FTP login every demo source uses.
pub const FTP_USER: &str = "demo";
/// The associated data the bank binds its payment files to.
const PAYMENTS_AAD: &str = "globex-payments-v1";

/// The demo's directory: the FTP root and the secrets.
pub struct DropFolder {
    /// Absolute: the registry names secret files by absolute path.
    pub dir: PathBuf,
}

impl DropFolder {
    pub fn ftp_root(&self) -> PathBuf {
        self.dir.join("ftp")
    }

    fn secret(&self, name: &str) -> PathBuf {
        self.dir.join("secrets").join(name)
    }

    /// The FTP password (made on the first run).
    pub fn ftp_password(&self) -> anyhow::Result<String> {
        let path = self.secret("ftp-password");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the demo's FTP password {}", path.display()))?;
        Ok(text.trim().to_owned())
    }

    /// Makes the secrets and the tenants' files unless a previous run did;
    /// returns whether it made them.
    pub fn prepare(dir: &Path) -> anyhow::Result<(DropFolder, bool)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the demo directory {}", dir.display()))?;
        let dir = std::fs::canonicalize(dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let folder = DropFolder { dir };
        if folder.secret("ftp-password").exists() {
            return Ok((folder, false));
        }
        folder.write_secret("ftp-password", &random_base64(18)?)?;
        folder.write_secret("globex-payments.key", &random_base64(32)?)?;
        folder.write_secret("globex-ledger.key", &random_base64(32)?)?;
        folder.write_files()?;
        Ok((folder, true))
    }

    fn write_secret(&self, name: &str, value: &str) -> anyhow::Result<()> {
        let path = self.secret(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        writeln!(file, "{value}")?;
        Ok(())
    }

    fn key(&self, name: &str) -> anyhow::Result<DataKey> {
        let path = self.secret(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        DataKey::from_base64(text.trim()).with_context(|| format!("{} is no key", path.display()))
    }

    fn write_files(&self) -> anyhow::Result<()> {
        let sales = |day: u32, rows: u32| {
            let mut text = String::from("order_id,store,sku,quantity,amount\n");
            for i in 0..rows {
                let _ = writeln!(
                    text,
                    "{day}{i:05},store-{:02},SKU-{:04},{},{}.{:02}",
                    i % 17,
                    (i * 37) % 5000,
                    1 + i % 5,
                    3 + (i * 13) % 400,
                    (i * 7) % 100
                );
            }
            text
        };
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            (
                "/acme/outgoing/sales_2026-12-01.csv",
                sales(1, 250).into_bytes(),
            ),
            (
                "/acme/outgoing/sales_2026-12-02.csv.gz",
                gzip(sales(2, 400).as_bytes())?,
            ),
            (
                "/acme/outgoing/sales_2026-12-03.csv.bz2",
                bzip2(sales(3, 300).as_bytes())?,
            ),
            (
                "/acme/outgoing/sales_2026-11-30.csv",
                sales(30, 3).into_bytes(),
            ),
        ];
        // A file that breaks the sales contract on three rows: an amount with
        // three decimals, an order id seen before, a quantity of 0.
        let mut broken = sales(5, 20);
        broken = broken.replacen(
            "500006,store-06,SKU-0222,2,81.42",
            "500006,store-06,SKU-0222,2,81.425",
            1,
        );
        broken = broken.replacen("500011,", "500003,", 1);
        broken = broken.replacen(
            "500014,store-14,SKU-0518,5,",
            "500014,store-14,SKU-0518,0,",
            1,
        );
        files.push(("/acme/outgoing/sales_2026-12-05.csv", broken.into_bytes()));
        // A transfer cut short: the first half of a good archive.
        let mut truncated = gzip(sales(4, 500).as_bytes())?;
        truncated.truncate(truncated.len() / 2);
        files.push(("/acme/outgoing/sales_2026-12-04.csv.gz", truncated));

        let mut stock = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Stock date=\"2026-12-03\">\n",
        );
        for i in 0..120 {
            let _ = writeln!(
                stock,
                "  <Item sku=\"SKU-{i:04}\"><Store>store-{:02}</Store><OnHand>{}</OnHand></Item>",
                i % 17,
                (i * 11) % 90
            );
        }
        stock.push_str("</Stock>\n");
        files.push(("/acme/feeds/stock_2026-12-03.xml", stock.into_bytes()));

        let mut payments = String::from("payment_id,account,amount,currency\n");
        for i in 0..180 {
            let _ = writeln!(
                payments,
                "P{i:06},GB{:08},{}.{:02},EUR",
                i * 7919 % 99_999_999,
                10 + i * 3,
                i % 100
            );
        }
        let key = self.key("globex-payments.key")?;
        let mut nonce = [0u8; 12];
        getrandom(&mut nonce)?;
        let sealed = whole_file_gcm::encrypt(
            &gzip(payments.as_bytes())?,
            &key,
            PAYMENTS_AAD.as_bytes(),
            nonce,
        )
        .map_err(|_| anyhow::anyhow!("AES-256-GCM encryption failed"))?;
        files.push(("/globex/out/payments_2026-12-03.csv.gz.enc", sealed));

        let mut ledger = String::from("account\tbooked_at\tamount\tcurrency\n");
        for i in 0..2_000 {
            let _ = writeln!(
                ledger,
                "GB{:08}\t2026-12-03T{:02}:{:02}:00Z\t{}.{:02}\tEUR",
                i * 31 % 99_999_999,
                i % 24,
                i % 60,
                i % 900,
                i % 100
            );
        }
        let key = self.key("globex-ledger.key")?;
        let mut writer = TinkStreamWriter::new(Vec::new(), &key, b"", SEGMENT_SIZE_4KB)?;
        writer.write_all(ledger.as_bytes())?;
        files.push(("/globex/out/ledger_2026-12-03.tsv.tink", writer.finish()?));

        for (path, bytes) in files {
            let target = self.ftp_root().join(path.trim_start_matches('/'));
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, bytes)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
        // The folder the returns file should arrive in (it never does).
        std::fs::create_dir_all(self.ftp_root().join("acme/returns"))?;
        Ok(())
    }

    /// The registry of the demo's tenants, for an FTP server on `port`.
    pub fn registry(&self, port: u16) -> String {
        let password = self.secret("ftp-password");
        let payments_key = self.secret("globex-payments.key");
        let ledger_key = self.secret("globex-ledger.key");
        format!(
            r#"# The demo's registry (written by `tributary demo`; the FTP port changes per run).
version: 1
tenants:
  - id: acme-retail
    name: ACME Retail
    timezone: Europe/Paris
    sources:
      - id: acme-ftp
        host: 127.0.0.1
        port: {port}
        protocol: ftp
        username: {FTP_USER}
        password: {{file: "{password}"}}
        directories: [/acme/outgoing, /acme/feeds, /acme/returns]
        poll_schedule: "* * * * *"
        rules:
          - id: acme-sales
            match: {{glob: "/acme/outgoing/sales_*.csv*"}}
            dataset: sales
            format: csv
            header: true
            required_columns: [order_id, store, sku, quantity, amount]
            min_rows: 10
            notify: all
            columns:
              - {{name: order_id, type: bigint, unique: true}}
              - {{name: store, type: string, pattern: "store-[0-9]{{2}}"}}
              - {{name: sku, type: string, pattern: "SKU-[0-9]{{4}}"}}
              - {{name: quantity, type: int, min: 1}}
              - {{name: amount, type: "decimal(10,2)", min: 0}}
          - id: acme-stock
            match: {{glob: "/acme/feeds/stock_*.xml"}}
            dataset: stock
            format: xml
            record_element: Item
            notify: failures
          - id: acme-returns
            match: {{glob: "/acme/returns/returns_*.csv"}}
            dataset: returns
            format: csv
            header: true
            sla:
              expected: "0 6 * * *"
              grace_minutes: 60
            notify: failures
  - id: globex-bank
    name: Globex Bank
    timezone: America/New_York
    sources:
      - id: globex-ftp
        host: 127.0.0.1
        port: {port}
        protocol: ftp
        username: {FTP_USER}
        password: {{file: "{password}"}}
        directories: [/globex/out]
        poll_schedule: "* * * * *"
        rules:
          - id: globex-payments
            match: {{glob: "/globex/out/payments_*.csv.gz.enc"}}
            dataset: payments
            format: csv
            header: true
            required_columns: [payment_id, account, amount, currency]
            layers: [aes-256-gcm, gzip]
            key: {{file: "{payments_key}"}}
            associated_data: {PAYMENTS_AAD}
            min_rows: 1
            notify: failures
          - id: globex-ledger
            match: {{glob: "/globex/out/ledger_*.tsv.tink"}}
            dataset: ledger
            format: tsv
            header: true
            layers: [aes-256-gcm-hkdf-stream]
            key: {{file: "{ledger_key}"}}
            notify: failures
"#,
            password = password.display(),
            payments_key = payments_key.display(),
            ledger_key = ledger_key.display(),
        )
    }
}

fn getrandom(bytes: &mut [u8]) -> anyhow::Result<()> {
    getrandom::fill(bytes).map_err(|e| anyhow::anyhow!("no randomness from the system: {e}"))
}

fn random_base64(len: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; len];
    getrandom(&mut bytes)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

fn bzip2(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}
