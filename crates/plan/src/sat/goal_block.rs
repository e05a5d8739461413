//! The double-ended incremental encoding: the levels next to the goals as a block of rows fixed
//! from stage to stage, joined to the levels grown from the initial state (Gocht & Balyo 2017).

use std::time::Instant;

use super::{lit, LayerVars, SatExtractor, SatGrowth};
use crate::graph::PlanningGraph;

/// The rows kept next to the goals once the encoding is double-ended ([`GoalBlock`]): the last
/// four levels below the goals. Measured against 1, 2, 3, 6 and 8 and against a block that grows
/// in turn with the initial-state block (docs/planning-sat.md, "Measured: the double-ended
/// encoding").
pub const GOAL_BLOCK_ROWS: usize = 4;

/// The double-ended incremental encoding (after Gocht & Balyo 2017, "Accelerating SAT based
/// planning with incremental SAT solving"). Once the graph has levelled off at `L`, every layer
/// above `L` has the same content, so the last levels of stage `t` can be rows counted from the
/// goals down: `rows[d]` is level `t - d`. The block first grows at its far end to
/// [`GOAL_BLOCK_ROWS`] steps; later stages add levels at the initial-state end (`fact_var`, up
/// to `top ≥ L`) and leave the rows alone. For stage `t` the two meet at level `top = t - d`:
/// `p@top ⇔ p` in `rows[d]`, behind an activation literal assumed at stage `t` only.
pub(super) struct GoalBlock {
    /// The last level of the initial-state block.
    pub(super) top: usize,
    /// `rows[d]`: the facts `d` steps before the goals' level.
    pub(super) rows: Vec<Vec<i32>>,
    /// `ops[d]`: the layer from `rows[d + 1]` to `rows[d]`.
    pub(super) ops: Vec<LayerVars>,
    /// `carry[d]`: per class and member, "used before layer `d`" (the symmetry chain's link to
    /// the layer below).
    pub(super) carry: Vec<Vec<Vec<i32>>>,
    /// The activation literal of the current join (0: none yet).
    pub(super) join: i32,
}

impl SatExtractor {
    /// Make the encoding reach stage `t`: forward levels until the graph has levelled off
    /// (and always on a cone), then a [`GoalBlock`] grown to its depth with levels added under
    /// it, joined for stage `t`. False when the deadline passed.
    pub(super) fn reach(&mut self, g: &PlanningGraph, t: usize, deadline: Option<Instant>) -> bool {
        if let Some(b) = &self.goal {
            if b.top + b.rows.len() - 1 > t {
                // Stages come in order, one level apart; were one asked again below the block,
                // its rows would hang under the join unjoined. Start over, forward.
                self.restart(g, None);
            }
        }
        let top = self.levels() - 1;
        if self.goal.is_none()
            && self.growth == SatGrowth::DoubleEnded
            && self.cone.is_none()
            && t > top
            && g.leveled_off_at.is_some_and(|l| top >= l)
        {
            let row = self.new_fact_row(g, top);
            self.goal = Some(GoalBlock {
                top,
                rows: vec![row],
                ops: Vec::new(),
                carry: Vec::new(),
                join: 0,
            });
        }
        if self.goal.is_none() {
            while self.levels() <= t {
                if !self.encode_level(g, deadline) {
                    return false;
                }
            }
            return true;
        }
        loop {
            let block = self.goal.as_ref().expect("goal block");
            let (top, d) = (block.top, block.rows.len() - 1);
            if top + d >= t {
                self.join(t - top);
                return true;
            }
            // Rows at the goals' far end up to the block's depth, then levels at the initial-state
            // end.
            let grown = if d >= GOAL_BLOCK_ROWS {
                let grown = self.encode_level(g, deadline);
                if grown {
                    self.goal.as_mut().expect("goal block").top += 1;
                }
                grown
            } else {
                self.grow_goal_block(g, top, deadline)
            };
            if !grown {
                return false;
            }
        }
    }

    /// One more row at the far end of the goal block (`P_top`'s content: the graph has
    /// levelled off), and the layer from it to the row above it.
    fn grow_goal_block(
        &mut self,
        g: &PlanningGraph,
        top: usize,
        deadline: Option<Instant>,
    ) -> bool {
        let block = self.goal.as_ref().expect("goal block");
        let later = block.rows.last().expect("row 0").clone();
        let d = block.ops.len();
        let earlier = self.new_fact_row(g, top);
        // "Used before this layer", per class and member: joined to the layer below later.
        let carry: Vec<Vec<i32>> = (0..self.classes.len())
            .map(|c| {
                let members = self.classes[c].len();
                (1..members).map(|_| self.new_var()).collect()
            })
            .collect();
        let mut used = carry.clone();
        let Some((_, ops)) =
            self.encode_layer(g, top + 1, &earlier, Some(later), &mut used, deadline)
        else {
            return false;
        };
        let block = self.goal.as_mut().expect("goal block");
        let above = d.checked_sub(1).map(|k| block.carry[k].clone());
        block.rows.push(earlier);
        block.ops.push(ops);
        block.carry.push(carry);
        // The layer above this one: what was used before it is what is used up to this one.
        for (c, members) in above.iter().flatten().enumerate() {
            for (j, &before) in members.iter().enumerate() {
                self.add(&[lit(before, false), lit(used[c][j], true)]);
            }
        }
        true
    }

    /// Join goal row `d` to level `top` of the initial-state block (`p@top ⇔ p` in the row,
    /// and the symmetry chain) behind a new activation literal, assumed at this stage; the
    /// previous join is switched off for good (a unit on its literal).
    fn join(&mut self, d: usize) {
        let block = self.goal.as_ref().expect("goal block");
        let (old, top) = (block.join, block.top);
        let row = block.rows[d].clone();
        let carry = d.checked_sub(1).map(|k| block.carry[k].clone());
        if old != 0 {
            self.add(&[lit(old, false)]);
        }
        let act = self.new_var();
        let init = self.fact_var[top].clone();
        for (a, b) in init.into_iter().zip(row) {
            if a != 0 && b != 0 {
                self.add(&[lit(act, false), lit(a, false), lit(b, true)]);
                self.add(&[lit(act, false), lit(a, true), lit(b, false)]);
            }
        }
        for (c, members) in carry.iter().flatten().enumerate() {
            for (j, &before) in members.iter().enumerate() {
                match self.used[c][j] {
                    0 => self.add(&[lit(act, false), lit(before, false)]),
                    u => self.add(&[lit(act, false), lit(before, false), lit(u, true)]),
                }
            }
        }
        self.goal.as_mut().expect("goal block").join = act;
    }

    /// The fact row of level `i` at stage `t`.
    pub(super) fn row_at(&self, t: usize, i: usize) -> &[i32] {
        match &self.goal {
            Some(b) if i > b.top => &b.rows[t - i],
            _ => &self.fact_var[i],
        }
    }

    /// The units of layer `A_l` at stage `t`.
    pub(super) fn ops_at(&self, t: usize, l: usize) -> &[(u32, i32)] {
        match &self.goal {
            Some(b) if l >= b.top => &b.ops[t - l - 1],
            _ => &self.op_var[l],
        }
    }
}
