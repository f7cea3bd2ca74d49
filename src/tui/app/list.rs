//! The tenant list: rows indexed once per load, cached sort orders, the filter, and the
//! selection that survives both.

use super::{App, DETAIL_DEBOUNCE};
use crate::catalog::{Drift, TenantRow, TenantStatus};
use std::cell::Cell;
use std::collections::HashMap;
use tui_input::Input;

/// The row's size is not known yet, neither measured nor estimated: the registry was read
/// without sizes so that measuring could start at once. Its `size_bytes` is `None`, as a
/// missing schema's is (so the totals and the chart leave it out, and the size order puts
/// it last); the drift tells the two apart.
pub fn size_pending(r: &TenantRow) -> bool {
    r.size_bytes.is_none() && r.drift != Drift::MissingSchema
}

/// The tenant list's state.
#[derive(Debug)]
pub struct TenantList {
    /// The registry rows; never cloned for filtering or sorting.
    pub rows: Vec<TenantRow>,
    /// Indices into `rows` in the current sort order, unfiltered.
    pub order: Vec<usize>,
    /// `order` for each sort key, kept until the rows change.
    pub(super) sorted: HashMap<SortKey, Vec<usize>>,
    /// Per row, `id` and `name` lowercased, built once per load so a filter keystroke is
    /// one substring search per row.
    pub(super) haystacks: Vec<String>,
    /// `order` filtered: what the list shows.
    pub visible: Vec<usize>,
    /// Position in `visible` of the selected row.
    pub selected: usize,
    /// First visible row of the list; adjusted while drawing to keep the selection in view.
    pub offset: Cell<usize>,
    /// Rows the list showed last frame: the page for PgUp/PgDn.
    pub page: Cell<usize>,
    pub sort: SortKey,
    pub filter: Input,
    pub filtering: bool,
    /// Position in `rows` of each tenant id.
    pub(super) by_id: HashMap<String, usize>,
}

impl Default for TenantList {
    fn default() -> TenantList {
        TenantList {
            rows: Vec::new(),
            order: Vec::new(),
            sorted: HashMap::new(),
            haystacks: Vec::new(),
            visible: Vec::new(),
            selected: 0,
            offset: Cell::new(0),
            page: Cell::new(10),
            sort: SortKey::Id,
            filter: Input::default(),
            filtering: false,
            by_id: HashMap::new(),
        }
    }
}

/// Sort orders, cycled by `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Id,
    Name,
    Size,
    Status,
}

impl SortKey {
    /// Word for the pane title.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Status => "status",
        }
    }
    pub(super) fn next(self) -> SortKey {
        match self {
            SortKey::Id => SortKey::Name,
            SortKey::Name => SortKey::Size,
            SortKey::Size => SortKey::Status,
            SortKey::Status => SortKey::Id,
        }
    }
}

/// Header figures, recomputed when rows change rather than every frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub tenants: usize,
    pub bytes: i64,
    pub drift: usize,
    /// Rows whose size is still pending ([`size_pending`]): `bytes` is then a lower bound.
    pub pending: usize,
    /// Registered tenants per template version, newest first: (version, tenants, of them
    /// pinned); version 0 is an adopted tenant whose version is not known.
    pub versions: Vec<(i32, usize, usize)>,
}

impl App {
    /// Replaces the registry rows (a load, or a test building state).
    pub fn set_rows(&mut self, rows: Vec<TenantRow>) {
        self.list.rows = rows;
        self.list.by_id = self
            .list
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        self.index_rows();
        self.recount();
        self.refresh_view();
    }

    /// Rebuilds what is derived from the rows as a whole: search text, cached sort orders.
    pub(super) fn index_rows(&mut self) {
        self.list.sorted.clear();
        // The separator cannot be typed, so a match never spans id and name.
        self.list.haystacks = self
            .list
            .rows
            .iter()
            .map(|r| format!("{}\u{1}{}", r.id.to_lowercase(), r.name.to_lowercase()))
            .collect();
    }

    pub(super) fn recount(&mut self) {
        let mut t = Totals::default();
        let mut versions = std::collections::BTreeMap::<i32, (usize, usize)>::new();
        for r in &self.list.rows {
            t.bytes += r.size_bytes.unwrap_or(0);
            t.pending += usize::from(size_pending(r));
            if r.status != TenantStatus::Unregistered {
                t.tenants += 1;
                let v = versions.entry(r.template_version).or_default();
                v.0 += 1;
                v.1 += usize::from(r.pinned_version.is_some());
            }
            if r.drift != Drift::None {
                t.drift += 1;
            }
        }
        t.versions = versions
            .into_iter()
            .rev()
            .map(|(v, (n, pinned))| (v, n, pinned))
            .collect();
        self.totals = t;
        // Runs on every batch of measured sizes: row positions, not ids, until the few
        // biggest are picked (cloning 10,000 ids each time was most of its cost).
        let rows = &self.list.rows;
        let mut top: Vec<(i64, usize)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.size_bytes.map(|b| (b, i)))
            .collect();
        let largest = |a: &(i64, usize), b: &(i64, usize)| {
            b.0.cmp(&a.0).then_with(|| rows[a.1].id.cmp(&rows[b.1].id))
        };
        // Partial selection: only the few biggest are drawn.
        let n = 8.min(top.len());
        if n > 0 {
            top.select_nth_unstable_by(n - 1, largest);
            top.truncate(n);
            top.sort_by(largest);
        }
        self.top = top
            .into_iter()
            .map(|(b, i)| (rows[i].id.clone(), b))
            .collect();
    }

    /// After sizes changed in place: totals again, and the size order (re-sorted now if
    /// shown).
    pub(super) fn sizes_changed(&mut self) {
        self.recount();
        self.list.sorted.remove(&SortKey::Size);
        if self.list.sort == SortKey::Size {
            self.refresh_view();
        }
    }

    /// Re-sorts all rows and reapplies the filter, keeping the selected tenant selected.
    pub fn refresh_view(&mut self) {
        // Each order is computed once per change of the rows, so `s` only swaps vectors.
        if let Some(order) = self.list.sorted.get(&self.list.sort) {
            self.list.order.clone_from(order);
            self.refilter();
            return;
        }
        let rows = &self.list.rows;
        self.list.order.clear();
        self.list.order.extend(0..rows.len());
        match self.list.sort {
            SortKey::Id => self
                .list
                .order
                .sort_by(|&a, &b| rows[a].id.cmp(&rows[b].id)),
            // The lowercased name is already in the search text, made once per load: the
            // first sort by name allocates nothing (it took 12-30 ms at 10,000 tenants when
            // it lowercased and cloned a key per row on the keystroke).
            SortKey::Name => {
                let hay = &self.list.haystacks;
                let name = |i: usize| hay[i].split_once('\u{1}').map_or("", |(_, n)| n);
                self.list.order.sort_by(|&a, &b| {
                    name(a)
                        .cmp(name(b))
                        .then_with(|| rows[a].id.cmp(&rows[b].id))
                })
            }
            SortKey::Size => self.list.order.sort_by(|&a, &b| {
                rows[b]
                    .size_bytes
                    .cmp(&rows[a].size_bytes)
                    .then_with(|| rows[a].id.cmp(&rows[b].id))
            }),
            SortKey::Status => self.list.order.sort_by(|&a, &b| {
                (rows[a].drift != Drift::None)
                    .cmp(&(rows[b].drift != Drift::None))
                    .reverse()
                    .then_with(|| rows[a].status.cmp(&rows[b].status))
                    .then_with(|| rows[a].id.cmp(&rows[b].id))
            }),
        }
        self.list
            .sorted
            .insert(self.list.sort, self.list.order.clone());
        self.refilter();
    }

    /// Reapplies the filter over the sorted order: one pass, no sorting, no row copies.
    pub fn refilter(&mut self) {
        let keep = self.selected_row().map(|r| r.id.clone());
        let needle = self.list.filter.value().to_lowercase();
        let haystacks = &self.list.haystacks;
        self.list.visible.clear();
        self.list.visible.extend(
            self.list
                .order
                .iter()
                .copied()
                .filter(|&i| needle.is_empty() || haystacks[i].contains(needle.as_str())),
        );
        self.select_id(keep.as_deref());
    }

    pub(super) fn select_id(&mut self, id: Option<&str>) {
        let pos = id.and_then(|id| {
            let i = *self.list.by_id.get(id)?;
            self.list.visible.iter().position(|&v| v == i)
        });
        self.list.selected = pos
            .unwrap_or(0)
            .min(self.list.visible.len().saturating_sub(1));
    }

    pub(super) fn move_selection(&mut self, to: usize) {
        let to = to.min(self.list.visible.len().saturating_sub(1));
        if to != self.list.selected {
            self.list.selected = to;
            self.schema_scroll = 0;
            self.grants_scroll = 0;
            self.detail_due = Some(self.now + DETAIL_DEBOUNCE);
        }
    }
}
