//! Data compiled into the binary (`include_str!` of files under the repository's `data/`), so
//! `superpose demo` and `superpose lab run --quick` work from any directory.

/// `include_str!` of a file under `data/pddl/`.
macro_rules! pddl {
    ($p:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl/", $p))
    };
}

/// One embedded planning problem: a short name, its domain text and its problem text.
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedProblem {
    /// `folder/problem` as in `data/pddl` (e.g. `blocks/probBLOCKS-4-0`).
    pub name: &'static str,
    pub domain: &'static str,
    pub problem: &'static str,
}

const BLOCKS: &str = pddl!("blocks/domain.pddl");
const GRIPPER: &str = pddl!("gripper/domain.pddl");
const MICONIC: &str = pddl!("miconic/domain.pddl");
const SATELLITE: &str = pddl!("satellite/domain.pddl");
const DRIVERLOG: &str = pddl!("driverlog/domain.pddl");
const ZENOTRAVEL: &str = pddl!("zenotravel/domain.pddl");
const LOGISTICS00: &str = pddl!("logistics00/domain.pddl");
const DEPOT: &str = pddl!("depot/domain.pddl");
const ROVERS: &str = pddl!("rovers/domain.pddl");

/// Small problems: the hand-written examples of `data/pddl/extra` (the planning-graph
/// lessons: jobs, pigeonhole, Sussman, cake, tire, hw) and the smallest IPC instances with
/// reference numbers in `data/pddl/README.md`.
pub const PROBLEMS: &[EmbeddedProblem] = &[
    EmbeddedProblem {
        name: "extra/jobs-3-2",
        domain: pddl!("extra/jobs-domain.pddl"),
        problem: pddl!("extra/jobs-3-2.pddl"),
    },
    EmbeddedProblem {
        name: "extra/holes-3-2",
        domain: pddl!("extra/hole-domain.pddl"),
        problem: pddl!("extra/holes-3-2.pddl"),
    },
    EmbeddedProblem {
        name: "extra/sussman",
        domain: BLOCKS,
        problem: pddl!("extra/sussman.pddl"),
    },
    EmbeddedProblem {
        name: "extra/cake",
        domain: pddl!("extra/cake-domain.pddl"),
        problem: pddl!("extra/cake.pddl"),
    },
    EmbeddedProblem {
        name: "extra/tire",
        domain: pddl!("extra/tire-domain.pddl"),
        problem: pddl!("extra/tire.pddl"),
    },
    EmbeddedProblem {
        name: "extra/hw",
        domain: pddl!("extra/hw-domain.pddl"),
        problem: pddl!("extra/hw.pddl"),
    },
    EmbeddedProblem {
        name: "blocks/probBLOCKS-4-0",
        domain: BLOCKS,
        problem: pddl!("blocks/probBLOCKS-4-0.pddl"),
    },
    EmbeddedProblem {
        name: "blocks/probBLOCKS-4-2",
        domain: BLOCKS,
        problem: pddl!("blocks/probBLOCKS-4-2.pddl"),
    },
    EmbeddedProblem {
        name: "blocks/probBLOCKS-5-0",
        domain: BLOCKS,
        problem: pddl!("blocks/probBLOCKS-5-0.pddl"),
    },
    EmbeddedProblem {
        name: "gripper/prob01",
        domain: GRIPPER,
        problem: pddl!("gripper/prob01.pddl"),
    },
    EmbeddedProblem {
        name: "miconic/s2-0",
        domain: MICONIC,
        problem: pddl!("miconic/s2-0.pddl"),
    },
    EmbeddedProblem {
        name: "miconic/s3-0",
        domain: MICONIC,
        problem: pddl!("miconic/s3-0.pddl"),
    },
    EmbeddedProblem {
        name: "satellite/p01-pfile1",
        domain: SATELLITE,
        problem: pddl!("satellite/p01-pfile1.pddl"),
    },
    EmbeddedProblem {
        name: "driverlog/p02",
        domain: DRIVERLOG,
        problem: pddl!("driverlog/p02.pddl"),
    },
    EmbeddedProblem {
        name: "zenotravel/p03",
        domain: ZENOTRAVEL,
        problem: pddl!("zenotravel/p03.pddl"),
    },
    EmbeddedProblem {
        name: "logistics00/probLOGISTICS-4-0",
        domain: LOGISTICS00,
        problem: pddl!("logistics00/probLOGISTICS-4-0.pddl"),
    },
    EmbeddedProblem {
        name: "depot/p01",
        domain: DEPOT,
        problem: pddl!("depot/p01.pddl"),
    },
    EmbeddedProblem {
        name: "rovers/p01",
        domain: ROVERS,
        problem: pddl!("rovers/p01.pddl"),
    },
];

/// The repository's `data/pddl` folder as seen at compile time (used by full runs when it
/// still exists; quick runs and the demo only use [`PROBLEMS`]).
pub fn repo_pddl_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl"))
}

/// The ProsQA validation split (Coconut format), embedded.
pub const PROSQA_VALID: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/prosqa/prosqa_valid.json"
));

/// The symbolic ProsQA validation records (Coconut records + `neighbor_k`, 257 records),
/// embedded.
pub const PROSQA_VALID_SYMBOLIC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/prosqa/prosqa_valid_graph_4_coconut.json"
));
