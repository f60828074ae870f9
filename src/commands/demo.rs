//! `escape-gate demo`: the whole job on a throwaway repository, so a newcomer sees it
//! with one command. The base commit is a small inventory service; the head commit
//! moves code around (a method to another file, a file renamed, comments inserted) and
//! adds exactly one real heap escape. The repository is removed afterwards.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use git2::{Repository, Signature};

use crate::exit::Exit;
use crate::gate::{self, DiffRequest};
use crate::interrupt::TempTree;
use crate::report::{self, Format, Style};

/// Run the gate on a built-in example repository, then remove it.
///
/// Creates a small Go module in a temporary directory with a base commit and a head
/// commit that moves code around and adds one heap escape, and shows what
/// `escape-gate diff BASE HEAD` reports. Needs Go on PATH.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format of the report
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

const GO_MOD: &str = "module example.com/inventory\n\ngo 1.22\n";

const ITEM_GO: &str = r#"package stock

// Item is one line of the inventory.
type Item struct {
	SKU   string
	Name  string
	Count int
}

// NewItem returns a new item; the caller keeps it, so it lives on the heap.
func NewItem(sku, name string, count int) *Item {
	return &Item{SKU: sku, Name: name, Count: count}
}
"#;

const STORE_GO: &str = r#"package stock

import "sort"

// Store holds items by SKU.
type Store struct {
	items map[string]*Item
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{items: make(map[string]*Item)}
}

// Add puts an item in the store.
func (s *Store) Add(it *Item) {
	s.items[it.SKU] = it
}

// Total counts all units in the store.
func (s *Store) Total() int {
	n := 0
	for _, it := range s.items {
		n += it.Count
	}
	return n
}

// SKUs lists the SKUs in order.
func (s *Store) SKUs() []string {
	skus := make([]string, 0, len(s.items))
	for sku := range s.items {
		skus = append(skus, sku)
	}
	sort.Strings(skus)
	return skus
}
"#;

const REPORT_GO_BASE: &str = r#"package report

import (
	"strconv"
	"strings"

	"example.com/inventory/stock"
)

// Summary renders one line per SKU.
func Summary(s *stock.Store) string {
	var b strings.Builder
	for _, sku := range s.SKUs() {
		b.WriteString(sku)
		b.WriteByte('\n')
	}
	b.WriteString("total ")
	b.WriteString(strconv.Itoa(s.Total()))
	return b.String()
}
"#;

const REPORT_GO_HEAD: &str = r#"package report

import (
	"strconv"
	"strings"

	"example.com/inventory/stock"
)

// lastSummary keeps the most recent summary for the status page.
var lastSummary *string

// Summary renders one line per SKU.
func Summary(s *stock.Store) string {
	var b strings.Builder
	for _, sku := range s.SKUs() {
		b.WriteString(sku)
		b.WriteByte('\n')
	}
	b.WriteString("total ")
	b.WriteString(strconv.Itoa(s.Total()))
	out := b.String()
	lastSummary = &out
	return out
}
"#;

const MAIN_GO: &str = r#"package main

import (
	"fmt"

	"example.com/inventory/report"
	"example.com/inventory/stock"
)

func main() {
	s := stock.NewStore()
	s.Add(stock.NewItem("A-1", "bolt", 40))
	s.Add(stock.NewItem("B-7", "nut", 12))
	fmt.Println(report.Summary(s))
}
"#;

/// The head's stock package: `SKUs` moved to its own file, `item.go` renamed to
/// `items.go` with a comment block inserted above the type.
const ITEMS_GO_HEAD: &str = r#"package stock

// Items are created by NewItem and owned by a Store.
// A Store never copies them: callers may keep the pointer.

// Item is one line of the inventory.
type Item struct {
	SKU   string
	Name  string
	Count int
}

// NewItem returns a new item; the caller keeps it, so it lives on the heap.
func NewItem(sku, name string, count int) *Item {
	return &Item{SKU: sku, Name: name, Count: count}
}
"#;

const STORE_GO_HEAD: &str = r#"package stock

// Store holds items by SKU.
type Store struct {
	items map[string]*Item
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{items: make(map[string]*Item)}
}

// Add puts an item in the store.
func (s *Store) Add(it *Item) {
	s.items[it.SKU] = it
}

// Total counts all units in the store.
func (s *Store) Total() int {
	n := 0
	for _, it := range s.items {
		n += it.Count
	}
	return n
}
"#;

const QUERY_GO_HEAD: &str = r#"package stock

import "sort"

// SKUs lists the SKUs in order.
func (s *Store) SKUs() []string {
	skus := make([]string, 0, len(s.items))
	for sku := range s.items {
		skus = append(skus, sku)
	}
	sort.Strings(skus)
	return skus
}
"#;

pub fn run(args: Args) -> Result<Exit> {
    let dir = TempTree::new("demo")?;
    let (base, head) = make_repository(dir.path()).context("creating the demo repository")?;
    let mut out = std::io::stdout().lock();
    if args.format == Format::Text {
        writeln!(
            out,
            "escape-gate demo: a Go module in {}\n\
             base {base}: packages stock, report and main\n\
             head {head}: SKUs moved to query.go, item.go renamed to items.go, comments added,\n\
             \x20          and Summary now keeps a pointer to its result in a package variable\n\
             running: escape-gate diff --explain {base} {head}\n",
            dir.path().display(),
            base = short(&base),
            head = short(&head),
        )?;
    }
    let outcome = gate::diff(&DiffRequest {
        repo: dir.path().to_path_buf(),
        base: Some(base.clone()),
        head: Some(head.clone()),
        // The demo shows the whole job, including why the new escape happens.
        explain: true,
        excerpts: args.format.shows_source(),
        ..DiffRequest::default()
    })?;
    let style = Style {
        color: args.format == Format::Text && report::stdout_wants_color(),
        show_fixed: false,
    };
    report::write(args.format, &outcome, style, &mut out)?;
    let found = outcome.failing().len();
    if found != 1 {
        bail!(
            "the demo should find exactly one new heap escape, but found {found}\n\
             hint: this is a bug in escape-gate or an unexpected Go release ({}); please report it",
            outcome.go.describe()
        );
    }
    if args.format == Format::Text {
        writeln!(
            out,
            "\nOn this change `escape-gate diff` exits 1: the moved code is not reported, the new\n\
             escape is. The demo itself exits 0; its repository has been removed."
        )?;
    }
    out.flush()?;
    Ok(Exit::Clean)
}

fn short(oid: &str) -> &str {
    &oid[..oid.len().min(10)]
}

/// Writes the two commits; returns their ids.
fn make_repository(dir: &Path) -> Result<(String, String)> {
    let repo = Repository::init(dir)?;
    let sig = Signature::new(
        "escape-gate demo",
        "demo@example.com",
        &git2::Time::new(1_700_000_000, 0),
    )?;
    let write = |rel: &str, text: &str| -> Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, text).with_context(|| format!("writing {rel}"))
    };
    write("go.mod", GO_MOD)?;
    write("stock/item.go", ITEM_GO)?;
    write("stock/store.go", STORE_GO)?;
    write("report/report.go", REPORT_GO_BASE)?;
    write("main.go", MAIN_GO)?;
    let base = commit(&repo, &sig, "inventory: stock, report and main", None)?;

    fs::remove_file(dir.join("stock/item.go"))?;
    write("stock/items.go", ITEMS_GO_HEAD)?;
    write("stock/store.go", STORE_GO_HEAD)?;
    write("stock/query.go", QUERY_GO_HEAD)?;
    write("report/report.go", REPORT_GO_HEAD)?;
    let head = commit(
        &repo,
        &sig,
        "stock: split queries out; report: remember the last summary",
        Some(base),
    )?;
    Ok((base.to_string(), head.to_string()))
}

fn commit(
    repo: &Repository,
    sig: &Signature,
    message: &str,
    parent: Option<git2::Oid>,
) -> Result<git2::Oid> {
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.update_all(["*"], None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let parents: Vec<git2::Commit> = match parent {
        Some(oid) => vec![repo.find_commit(oid)?],
        None => Vec::new(),
    };
    let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
    Ok(repo.commit(Some("HEAD"), sig, sig, message, &tree, &parent_refs)?)
}
