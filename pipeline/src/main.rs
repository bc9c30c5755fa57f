//! The `census-pipeline` command line.
//!
//! Exit codes: 0 success; 1 a data, download or I/O error (nothing was
//! published); 2 a configuration error in the catalog or stage specs, or bad
//! command-line usage.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use tracing_subscriber::prelude::*;

use census_pipeline::build::{build, BuildOptions, BuildReport};
use census_pipeline::cache::{default_dir, Cache, DirLock};
use census_pipeline::fetch::{fetch_all, FetchOptions};
use census_pipeline::plan::load_config;
use census_pipeline::publish::PublishOptions;
use census_pipeline::read::Limits;
use census_pipeline::scratch::Keep;
use census_pipeline::Error;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "census-pipeline",
    version,
    about = "Builds verified releases of UK deprivation and Census 2021 data."
)]
struct Cli {
    /// Log format on stderr: human-readable text, or one JSON object per line (for CI).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the catalog and every stage spec; report all errors at once.
    Check(ConfigArgs),
    /// Download every source into the cache, verify it, and update sources.lock.
    Fetch {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        fetch: FetchArgs,
    },
    /// Look for newer editions than the catalog records (landing pages,
    /// ArcGIS item times and searches, Last-Modified): prints a table; exits
    /// 10 when something is newer, else 11 when a source could not be checked.
    Outdated {
        #[command(flatten)]
        config: ConfigArgs,
        /// Seconds to wait for each publisher's answer.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Run the stage graph and write a release directory.
    Build {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        fetch: FetchArgs,
        /// The release directory to write (replaced atomically).
        #[arg(long, default_value = "output")]
        out: PathBuf,
        /// The previous release directory: the version is derived from the change.
        #[arg(long)]
        previous: Option<PathBuf>,
    },
    /// Compare two release directories: Markdown on stdout, and with --out a report/ folder (Markdown + HTML with SVG charts).
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Write report/diff.md and report/diff.html here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Publish a release directory to a bucket: write-once versions, `latest.json` switched last.
    Publish {
        /// The release directory (as written by `build`).
        #[arg(long, default_value = "output")]
        from: PathBuf,
        /// Destination: s3://bucket/prefix (AWS_* environment variables configure it), file:///path, ...
        #[arg(long)]
        to: String,
        /// Uploads at once (a release has ~60k small API files).
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Read back every object of the version and put back any that
        /// differs from the release (changed or deleted in the bucket).
        #[arg(long)]
        verify: bool,
        /// Let latest.json move to an older version than it points at.
        #[arg(long)]
        allow_downgrade: bool,
    },
    /// IMD for every row of a CSV of postcodes or small-area codes, offline,
    /// from a local release: the same rows with columns appended, and a
    /// reason for any row that cannot be answered.
    Lookup {
        /// The release directory (as written by `build`).
        #[arg(long, default_value = "output")]
        release: PathBuf,
        /// Per nation, the edition of this year or the latest before it
        /// (2019 or 2025; Scotland 2020, Northern Ireland 2017); default:
        /// each nation's latest.
        #[arg(long)]
        year: Option<u32>,
        /// The column holding postcodes or small-area codes (detected when
        /// not given: by its name, else by its values).
        #[arg(long)]
        column: Option<String>,
        /// The input CSV.
        input: PathBuf,
        /// The output CSV (default: standard output).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
    },
    /// Time a full build (fresh stage cache, inputs in place) and a no-op rebuild.
    Bench {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        fetch: FetchArgs,
        /// Full builds to time, each with a fresh stage cache: on a shared
        /// machine one build's time varies by a third, so compare the
        /// fastest and the median of several.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=50))]
        runs: u32,
        /// Where the runs' releases and stage caches are written. Default:
        /// the system's temporary directory. Its file system is part of the
        /// figure: see README's Benchmarks. Runs are kept until the end on a
        /// disk with 150,000 free inodes and 0.6 GB free for every run and
        /// one more; else (and always on tmpfs) each is removed before the
        /// next.
        #[arg(long)]
        scratch: Option<PathBuf>,
    },
}

#[derive(Args)]
struct ConfigArgs {
    /// The catalog of sources.
    #[arg(long, default_value = "sources.toml")]
    sources: PathBuf,
    /// The directory of stage specs.
    #[arg(long, default_value = "stages")]
    stages: PathBuf,
}

#[derive(Args)]
struct FetchArgs {
    /// Cache directory (downloads and stage outputs). Default: the user's cache directory.
    #[arg(long, env = "CENSUS_PIPELINE_CACHE")]
    cache: Option<PathBuf>,
    /// Use only what is already in the cache.
    #[arg(long)]
    offline: bool,
    /// Take files from this directory (matched by file name) instead of the network.
    #[arg(long)]
    mirror: Option<PathBuf>,
    /// Seconds without data before a download is abandoned and retried.
    #[arg(long, default_value_t = 60)]
    read_timeout_secs: u64,
    /// Attempts per file for transient failures (5xx, resets, timeouts).
    #[arg(long, default_value_t = 4)]
    attempts: u32,
    /// First retry delay in milliseconds (doubles each time).
    #[arg(long, default_value_t = 500)]
    backoff_ms: u64,
    /// The most bytes a source may hold after decompression (a catalog
    /// entry's `max_bytes` overrides it).
    #[arg(long, default_value_t = 2 << 30)]
    max_source_bytes: u64,
}

impl FetchArgs {
    fn options(&self) -> FetchOptions {
        FetchOptions {
            offline: self.offline,
            mirror: self.mirror.clone(),
            attempts: self.attempts.max(1),
            backoff: Duration::from_millis(self.backoff_ms),
            read_timeout: Duration::from_secs(self.read_timeout_secs.max(1)),
            ..FetchOptions::default()
        }
    }
    fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.max_source_bytes,
            ..Limits::default()
        }
    }
    fn cache_dir(&self) -> PathBuf {
        self.cache.clone().unwrap_or_else(default_dir)
    }
}

/// glibc gives each new thread its own heap arena, and memory freed in one
/// arena is not reused by another. Stages run on fresh scoped threads wave
/// after wave, so with the default (8 arenas per core) a full build's peak
/// RSS grew to 1.67 GB; two arenas keep it at 1.33 GB, at no measurable cost
/// in time. Must run before any thread starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called first thing
    // in main, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// mimalloc asks the kernel for transparent huge pages on its arenas, so a
/// page first touched costs a 2 MB page, zeroed, however little of it is
/// used. Measured on 7 December 2026 (2 cores, release, alternating runs):
/// at postcode scale (`scripts/bench-postcodes`) the build took 14.1-14.4 s
/// wall without them and 15.1-16.7 s with them; a full build of the shared
/// catalog took the same time either way, with less system time. Peak RSS
/// moved within its run-to-run spread (1.54-1.80 GB without, 1.57-1.70 GB
/// with). The process opts out before it allocates much; the setting is
/// its own and its children's.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag of this
    // process; a failure (an old kernel) leaves huge pages on, harmlessly.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// `lookup`: answers a CSV and says on stderr what it did.
fn lookup(opts: census_pipeline::lookup::LookupOptions) -> anyhow::Result<()> {
    let t0 = std::time::Instant::now();
    let r = census_pipeline::lookup::run(&opts)?;
    if r.headerless {
        eprintln!(
            "the first row holds data, not names: the columns are named column_1, column_2, ..."
        );
    }
    eprintln!(
        "answers from release {} at {}",
        r.release_version
            .as_deref()
            .unwrap_or("(version unknown: no readable manifest.json)"),
        std::fs::canonicalize(&opts.release)
            .unwrap_or_else(|_| opts.release.clone())
            .display()
    );
    for line in &r.later_than_year {
        eprintln!("{line}");
    }
    eprintln!(
        "looked up {} rows by {} (column `{}`): {} with an IMD, {} with the reason why not, in {:.2} s",
        r.rows,
        if r.by_postcode { "postcode" } else { "small-area code" },
        r.column,
        r.answered,
        r.rows - r.answered,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    no_transparent_huge_pages();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(cli.log_format);
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) => {
            let code = err.downcast_ref::<Error>().map_or(1, Error::exit_code);
            eprintln!("error: {err:#}");
            ExitCode::from(code)
        }
    };
    // For tests and benchmarks that hold the tool to a memory budget.
    if std::env::var_os("CENSUS_PIPELINE_REPORT_PEAK_RSS").is_some() {
        if let Some(mb) = peak_rss_mb() {
            eprintln!("peak RSS {:.0} KiB", mb * 1024.0);
        }
    }
    code
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check(config) => {
            let (catalog, plan) = load_config(&config.sources, &config.stages)?;
            println!(
                "ok: catalog `{}` declares {} sources for {} datasets; {} stages in {} waves",
                catalog.name,
                catalog.sources.len(),
                catalog.datasets.len(),
                plan.stages.len(),
                plan.waves.len()
            );
        }
        Command::Fetch { config, fetch } => {
            let (catalog, _) = load_config(&config.sources, &config.stages)?;
            let cache = Cache::open(&fetch.cache_dir())?;
            // The same lock as a build's: a build cleans the cache's tmp/.
            let _lock = DirLock::acquire(&cache.dir.join(".lock"), true)?;
            let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let fetched = rt.block_on(fetch_all(&catalog, &cache, &fetch.options()))?;
            println!(
                "fetched {} sources into {}",
                fetched.len(),
                cache.dir.display()
            );
        }
        Command::Outdated { config, timeout } => return outdated(&config, timeout),
        Command::Lookup {
            release,
            year,
            column,
            input,
            out,
        } => lookup(census_pipeline::lookup::LookupOptions {
            release,
            year,
            column,
            input,
            output: out,
        })?,
        Command::Diff { old, new, out } => {
            let r = census_pipeline::report::diff(&old, &new)?;
            print!("{}", census_pipeline::report::markdown(&r));
            if let Some(dir) = out {
                census_pipeline::report::write_into(&dir, &r)?;
            }
        }
        Command::Publish {
            from,
            to,
            concurrency,
            verify,
            allow_downgrade,
        } => {
            let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let opts = PublishOptions {
                concurrency,
                verify,
                allow_downgrade,
            };
            let r = rt.block_on(census_pipeline::publish::publish(&from, &to, opts))?;
            println!(
                "published version {} to {}: {} uploaded, {} already there, {} repaired; latest.json {}",
                r.version,
                census_pipeline::publish::redact(&to),
                r.uploaded,
                r.skipped,
                r.repaired,
                if r.latest_switched {
                    "switched"
                } else {
                    "unchanged"
                }
            );
        }
        Command::Build {
            config,
            fetch,
            out,
            previous,
        } => {
            let (catalog, plan) = load_config(&config.sources, &config.stages)?;
            let report = build(
                &catalog,
                &plan,
                &BuildOptions {
                    out: out.clone(),
                    previous,
                    cache_dir: fetch.cache_dir(),
                    fetch: fetch.options(),
                    limits: fetch.limits(),
                },
            )?;
            println!(
                "built version {}: {} tables into {} in {:.2} s ({} computed, {} from cache; {} unavailable)",
                report.manifest.version,
                report.manifest.tables.len(),
                out.display(),
                report.total.as_secs_f64(),
                report.computed(),
                report.stages.iter().map(|s| s.cached).sum::<usize>(),
                report.manifest.unavailable.len()
            );
        }
        Command::Bench {
            config,
            fetch,
            runs,
            scratch,
        } => bench(&config, &fetch, runs, scratch.as_deref())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench`: full builds with a fresh stage cache, then a no-op rebuild.
fn bench(
    config: &ConfigArgs,
    fetch: &FetchArgs,
    runs: u32,
    scratch: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let (catalog, plan) = load_config(&config.sources, &config.stages)?;
    let scratch = match scratch {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .context("creating a scratch directory")?;
    let user_cache = fetch.cache_dir();
    let options = |run: u32| -> anyhow::Result<BuildOptions> {
        // A fresh stage cache, but the fetched files of the usual cache
        // (a warm cache): the benchmark measures the stages, not the network.
        let cache_dir = scratch.path().join(format!("cache-{run}"));
        if user_cache.join("blobs").is_dir() {
            std::fs::create_dir_all(&cache_dir)?;
            std::os::unix::fs::symlink(user_cache.join("blobs"), cache_dir.join("blobs"))?;
        }
        Ok(BuildOptions {
            out: scratch.path().join(format!("release-{run}")),
            previous: None,
            cache_dir,
            fetch: FetchOptions {
                offline: !catalog.sources.values().all(|s| s.local_path.is_some()),
                ..fetch.options()
            },
            limits: fetch.limits(),
        })
    };
    // The warm rebuild below is one more run.
    let keep = Keep::decide(scratch.path(), runs + 1);
    // Said before the first run, so that an interrupted bench leaves a
    // path to remove.
    eprintln!(
        "bench: writing runs under {} ({})",
        scratch.path().display(),
        keep.describe()
    );
    let (times, full, opts) = full_builds(
        runs,
        keep == Keep::All,
        |opts| build(&catalog, &plan, opts),
        options,
    )?;
    let t = Instant::now();
    let noop = build(&catalog, &plan, &opts)?;
    let noop_wall = t.elapsed();
    // The same build into a new directory: every unit from the cache.
    let t = Instant::now();
    let warm = build(
        &catalog,
        &plan,
        &BuildOptions {
            out: scratch.path().join("release-warm"),
            ..opts.clone()
        },
    )?;
    let warm_wall = t.elapsed();
    println!(
        "census-pipeline bench ({} cores; scratch directory {}; {})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        census_pipeline::scratch::describe(scratch.path().parent().unwrap_or(scratch.path())),
        keep.describe()
    );
    println!();
    print_bench(&full, times[times.len() - 1].0, &noop, noop_wall);
    print_stages(
        "rebuild into a new directory (every unit from the stage cache)",
        &warm,
        warm_wall,
    );
    print_runs(&times);
    print_api(&opts.out);
    match peak_rss_mb() {
        Some(mb) => println!("peak RSS {mb:.0} MB"),
        None => println!("peak RSS unavailable on this platform"),
    }
    Ok(())
}

/// One full build's wall time and CPU seconds.
type RunTime = (Duration, f64);

/// Times `runs` full builds, each with fresh options, and returns each
/// one's wall and CPU time with the last build's report and options.
/// Earlier runs' files stay until the end when `keep` (see
/// `census_pipeline::scratch` for why).
fn full_builds(
    runs: u32,
    keep: bool,
    build: impl Fn(&BuildOptions) -> census_pipeline::error::Result<BuildReport>,
    options: impl Fn(u32) -> anyhow::Result<BuildOptions>,
) -> anyhow::Result<(Vec<RunTime>, BuildReport, BuildOptions)> {
    let mut times: Vec<RunTime> = Vec::new();
    let mut last: Option<(BuildReport, BuildOptions)> = None;
    for run in 0..runs {
        if !keep {
            if let Some((_, old)) = last.take() {
                std::fs::remove_dir_all(&old.out)?;
                std::fs::remove_dir_all(&old.cache_dir)?;
            }
        }
        let opts = options(run)?;
        let (t, cpu) = (Instant::now(), cpu_seconds());
        last = Some((build(&opts)?, opts));
        let (wall, cpu) = (t.elapsed(), cpu_seconds() - cpu);
        eprintln!(
            "bench: run {} took {:.3} s wall, {:.3} CPU s",
            run + 1,
            wall.as_secs_f64(),
            cpu
        );
        times.push((wall, cpu));
    }
    let (report, opts) = last.expect("at least one run");
    Ok((times, report, opts))
}

/// Each full build's wall and CPU time, and the fastest and median of
/// each (the stage table above is the last run's).
fn print_runs(times: &[RunTime]) {
    println!();
    println!("full builds: wall, CPU (user + system, all threads)");
    for (i, (wall, cpu)) in times.iter().enumerate() {
        println!(
            "  run {:<3} {:>8.3} s {:>8.3} s",
            i + 1,
            wall.as_secs_f64(),
            cpu
        );
    }
    let mut walls: Vec<f64> = times.iter().map(|t| t.0.as_secs_f64()).collect();
    let mut cpus: Vec<f64> = times.iter().map(|t| t.1).collect();
    walls.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    println!(
        "  fastest  {:>8.3} s {:>8.3} s\n  median   {:>8.3} s {:>8.3} s",
        walls[0],
        cpus[0],
        median(&walls),
        median(&cpus)
    );
}

/// The CPU time this process has used so far, user and system, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// The API's files and bytes as stored (gzip-encoded) and as JSON.
fn print_api(release: &std::path::Path) {
    let mut files = 0u64;
    let mut stored = 0u64;
    let mut json = 0u64;
    let mut stack = vec![release.join("api")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                files += 1;
                stored += bytes.len() as u64;
                json += census_pipeline::gz::decode(bytes, &p).map_or(0, |b| b.len() as u64);
            }
        }
    }
    println!();
    println!(
        "API: {files} files, {:.1} MB stored (gzip-encoded), {:.1} MB of JSON",
        stored as f64 / 1e6,
        json as f64 / 1e6
    );
}

fn print_bench(full: &BuildReport, full_wall: Duration, noop: &BuildReport, noop_wall: Duration) {
    println!(
        "full build (fresh stage cache, inputs in place; stages and units of one stage overlap)"
    );
    println!("  {:<30} {:>9}   {:>9}", "", "starts at", "wall");
    let mut stages: Vec<_> = full.stages.iter().collect();
    stages.sort_by_key(|s| s.started);
    for s in stages {
        println!(
            "  stage {:<24} {:>9.3} s {:>9.3} s  ({} computed, {} cached)",
            s.name,
            s.started.as_secs_f64(),
            s.wall.as_secs_f64(),
            s.computed,
            s.cached
        );
        let mut units = s.units.clone();
        units.sort_by_key(|u| std::cmp::Reverse(u.took));
        for u in units {
            println!("    {:<40} {:>21.3} s", u.unit, u.took.as_secs_f64());
        }
    }
    println!(
        "  {:<30} {:>9.3} s",
        "fetch / input check",
        full.fetch.as_secs_f64()
    );
    println!("  one after another:");
    for (what, took) in &full.phases {
        println!("    {what:<60} {:>9.3} s", took.as_secs_f64());
    }
    println!("  {:<30} {:>9.3} s", "total", full_wall.as_secs_f64());
    println!();
    print_stages(
        "no-op rebuild (the same build into the same directory)",
        noop,
        noop_wall,
    );
}

fn print_stages(title: &str, report: &BuildReport, wall: Duration) {
    println!("{title}");
    if report.stages.is_empty() {
        println!("  the release in place has the build's key: no stage ran");
    }
    for s in &report.stages {
        println!(
            "  stage {:<24} {:>9.3} s  ({} computed, {} cached)",
            s.name,
            s.wall.as_secs_f64(),
            s.computed,
            s.cached
        );
    }
    println!("  {:<30} {:>9.3} s", "total", wall.as_secs_f64());
    println!();
}

/// Peak resident set size of this process, from /proc (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Logs go to stderr, filtered by RUST_LOG (default `info`). On a terminal,
/// long work shows progress bars (tracing-indicatif) and logs print above
/// them; in CI `--log-format json` gives one JSON object per line.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match format {
        LogFormat::Json => {
            tracing_subscriber::registry()
                .with(filter)
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_writer(std::io::stderr),
                )
                .init();
        }
        LogFormat::Text if std::io::stderr().is_terminal() => {
            let bars = tracing_indicatif::IndicatifLayer::new();
            tracing_subscriber::registry()
                .with(filter)
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_target(false)
                        .with_writer(bars.get_stderr_writer()),
                )
                .with(bars)
                .init();
        }
        LogFormat::Text => {
            tracing_subscriber::registry()
                .with(filter)
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_target(false)
                        .with_ansi(false)
                        .with_writer(std::io::stderr),
                )
                .init();
        }
    }
}

/// `outdated`: the table, and exit 10 when a publisher has something newer.
fn outdated(config: &ConfigArgs, timeout: u64) -> anyhow::Result<ExitCode> {
    use census_pipeline::outdated;
    let (catalog, _) = load_config(&config.sources, &config.stages)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let lock = census_pipeline::fetch::Lockfile::read(&catalog.lock_path())?;
    let rows = rt.block_on(outdated::check_all(
        &catalog,
        &lock,
        std::time::Duration::from_secs(timeout),
    ));
    print!("{}", outdated::render(&rows));
    let newer = outdated::newer(&rows).len();
    let failed = outdated::failed(&rows);
    eprintln!(
        "{newer} of {} sources have something newer than the catalog records; {failed} could not be checked",
        rows.len()
    );
    Ok(match (newer, failed) {
        (0, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::from(11),
        _ => ExitCode::from(10),
    })
}
