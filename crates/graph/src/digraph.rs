//! Directed graphs with optional node names and out-adjacency lists.

use crate::GraphError;

/// A directed graph on nodes `0..n`.
///
/// Edges are kept in insertion order (so files round-trip exactly) and mirrored in
/// out-adjacency lists (`out(u)` lists the heads of u's edges, in insertion order).
/// Duplicate edges and self-loops are allowed and kept as given.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Digraph {
    n: usize,
    names: Option<Vec<String>>,
    edges: Vec<(usize, usize)>,
    out: Vec<Vec<usize>>,
}

impl Digraph {
    /// A graph with `n` nodes, no edges and no names.
    pub fn new(n: usize) -> Self {
        Digraph {
            n,
            names: None,
            edges: Vec::new(),
            out: vec![Vec::new(); n],
        }
    }

    /// A graph with `n` nodes and the given edges (in this order).
    pub fn from_edges(
        n: usize,
        edges: impl IntoIterator<Item = (usize, usize)>,
    ) -> Result<Self, GraphError> {
        let mut g = Digraph::new(n);
        for (u, v) in edges {
            g.try_add_edge(u, v)?;
        }
        Ok(g)
    }

    /// Adds the edge `u -> v`; errors when either end is not a node.
    pub fn try_add_edge(&mut self, u: usize, v: usize) -> Result<(), GraphError> {
        for node in [u, v] {
            if node >= self.n {
                return Err(GraphError::NodeOutOfRange { node, n: self.n });
            }
        }
        self.edges.push((u, v));
        self.out[u].push(v);
        Ok(())
    }

    /// Adds the edge `u -> v`.
    ///
    /// # Panics
    /// If `u` or `v` is not a node (a programming error; use [`Digraph::try_add_edge`] for input).
    pub fn add_edge(&mut self, u: usize, v: usize) {
        self.try_add_edge(u, v).expect("edge end out of range");
    }

    /// Adds a node (returns its id); if the graph has names, `name` is required.
    pub fn add_node(&mut self, name: Option<String>) -> usize {
        let id = self.n;
        self.n += 1;
        self.out.push(Vec::new());
        if let Some(names) = &mut self.names {
            names.push(name.unwrap_or_else(|| format!("node{id}")));
        }
        id
    }

    /// Sets node names (one per node).
    pub fn set_names(&mut self, names: Vec<String>) -> Result<(), GraphError> {
        if names.len() != self.n {
            return Err(GraphError::NamesLength {
                names: names.len(),
                n: self.n,
            });
        }
        self.names = Some(names);
        Ok(())
    }

    /// Removes the node names.
    pub fn clear_names(&mut self) {
        self.names = None;
    }

    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of edges (with multiplicity).
    pub fn num_edges(&self) -> usize {
        self.edges.len()
    }

    /// All edges `(tail, head)` in insertion order.
    pub fn edges(&self) -> &[(usize, usize)] {
        &self.edges
    }

    /// Heads of the edges leaving `u`, in insertion order.
    pub fn out(&self, u: usize) -> &[usize] {
        &self.out[u]
    }

    /// Node names, if any.
    pub fn names(&self) -> Option<&[String]> {
        self.names.as_deref()
    }

    /// Name of node `u`, if the graph has names.
    pub fn name(&self, u: usize) -> Option<&str> {
        self.names.as_ref().map(|v| v[u].as_str())
    }

    /// Whether the edge `u -> v` exists.
    pub fn has_edge(&self, u: usize, v: usize) -> bool {
        u < self.n && self.out[u].contains(&v)
    }

    /// In-degree of every node.
    pub fn in_degrees(&self) -> Vec<usize> {
        let mut d = vec![0; self.n];
        for &(_, v) in &self.edges {
            d[v] += 1;
        }
        d
    }

    /// In-adjacency lists (tails of the edges entering each node, in edge order).
    pub fn in_adjacency(&self) -> Vec<Vec<usize>> {
        let mut inn = vec![Vec::new(); self.n];
        for &(u, v) in &self.edges {
            inn[v].push(u);
        }
        inn
    }

    /// The graph with every edge reversed (names kept).
    pub fn reversed(&self) -> Digraph {
        let mut g = Digraph::new(self.n);
        g.names = self.names.clone();
        for &(u, v) in &self.edges {
            g.add_edge(v, u);
        }
        g
    }

    /// The graph with node `u` renamed to `perm[u]` (a permutation of `0..n`); edge order kept.
    pub fn permuted(&self, perm: &[usize]) -> Digraph {
        assert_eq!(perm.len(), self.n, "permutation length");
        let mut g = Digraph::new(self.n);
        if let Some(names) = &self.names {
            let mut new_names = vec![String::new(); self.n];
            for (u, name) in names.iter().enumerate() {
                new_names[perm[u]] = name.clone();
            }
            g.names = Some(new_names);
        }
        for &(u, v) in &self.edges {
            g.add_edge(perm[u], perm[v]);
        }
        g
    }
}
