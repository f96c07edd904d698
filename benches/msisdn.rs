//! msisdn parse + validate throughput (the CSV import's per-row cost), next to the bare
//! phonenumber crate in the same run (LIMITS.md rows 5a/5b). Prints, asserts nothing about time.
//! `cargo bench --bench msisdn`
#![allow(clippy::unwrap_used)]

use scfm::domain::Msisdn;

fn main() {
    use std::time::Instant;

    const PREFIXES: [&str; 12] = [
        "10", "11", "12", "15", "16", "17", "61", "69", "70", "77", "85", "98",
    ];
    const N: u64 = 100_000;
    // Four input formats, as in LIMITS.md row 5a.
    let inputs: Vec<String> = (0..N)
        .map(|i| {
            let p = PREFIXES[(i % 12) as usize];
            let sub = (i * 7919) % 1_000_000;
            match i % 4 {
                0 => format!("+855{p}{sub:06}"),
                1 => format!("855{p}{sub:06}"),
                2 => format!("+855 {p} {:03} {:03}", sub / 1000, sub % 1000),
                _ => format!("00855 (0){p}-{sub:06}"),
            }
        })
        .collect();

    // Warm the lazy metadata and regex cache.
    for s in inputs.iter().take(1000) {
        let _ = Msisdn::parse(s);
    }

    for round in 0..3 {
        // Baseline in the same run, like LIMITS.md row 5b: the bare crate with region KH
        // (parse + is_valid + E.164 format).
        let t = Instant::now();
        let mut ok_base = 0u64;
        for s in &inputs {
            if let Ok(n) = phonenumber::parse(Some(phonenumber::country::KH), s)
                && phonenumber::is_valid(&n)
            {
                let e164 = n.format().mode(phonenumber::Mode::E164).to_string();
                ok_base += u64::from(e164.len() == 12);
            }
        }
        let base = N as f64 / t.elapsed().as_secs_f64();

        let t = Instant::now();
        let mut ok_count = 0u64;
        for s in &inputs {
            if Msisdn::parse(s).is_ok() {
                ok_count += 1;
            }
        }
        let ours = N as f64 / t.elapsed().as_secs_f64();
        println!(
            "round {round}: Msisdn::parse {ours:.0}/s ({ok_count} valid); \
             bare phonenumber parse+is_valid+format {base:.0}/s ({ok_base}); ratio {:.2}",
            ours / base
        );
        assert_eq!(ok_count, N);
    }
}
