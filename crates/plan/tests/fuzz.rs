//! Fuzzing of the PDDL tokenizer and parser, the domain/problem checks and the plan-file reader
//! (issue 16): random bytes, and mutations and truncations of shipped files. The property: no
//! panic, and either `Ok` or a typed error. `SUPERPOSE_FUZZ_CASES=N` runs N cases per target
//! (default 64, a few seconds).

use proptest::prelude::*;
use superpose_plan::pddl::{parse_domain_str, parse_problem_str};
use superpose_plan::validate::parse_plan_text;
use superpose_plan::{check, ground, validate_plan};
use superpose_util::fuzz::{cases, mutate};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl");

fn shipped(rel: &str) -> String {
    std::fs::read_to_string(format!("{DATA}/{rel}")).unwrap()
}

/// Bytes drawn mostly from PDDL's alphabet, so that random input gets past the tokenizer.
fn pddl_bytes() -> impl Strategy<Value = String> {
    let alphabet: Vec<u8> = b"()()?- ;\n:abcdefgnotr".to_vec();
    prop::collection::vec(prop::sample::select(alphabet), 0..400)
        .prop_map(|v| String::from_utf8(v).unwrap())
}

fn edits() -> impl Strategy<Value = Vec<(u8, usize, u8)>> {
    prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..8)
}

/// Parses, checks and grounds; panics only if the code under test panics.
fn front_end(domain: &str, problem: &str) {
    let Ok(d) = parse_domain_str(domain, "d.pddl") else {
        return;
    };
    let Ok(p) = parse_problem_str(problem, "p.pddl") else {
        return;
    };
    if check(&d, &p).is_ok() {
        // Grounding the shipped blocks problem under mutation stays small.
        let _ = ground(&d, &p);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_text_never_panics(text in pddl_bytes(), raw in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_domain_str(&text, "d.pddl");
        let _ = parse_problem_str(&text, "p.pddl");
        let raw = String::from_utf8_lossy(&raw);
        let _ = parse_domain_str(&raw, "d.pddl");
        let _ = parse_plan_text(&raw, "x.plan");
        let _ = parse_plan_text(&text, "x.plan");
    }

    #[test]
    fn mutated_shipped_domains_and_problems_never_panic(e1 in edits(), e2 in edits()) {
        let domain = shipped("blocks/domain.pddl");
        let problem = shipped("blocks/probBLOCKS-4-0.pddl");
        front_end(&mutate(&domain, &e1), &problem);
        front_end(&domain, &mutate(&problem, &e2));
        let typed = shipped("logistics00/domain.pddl");
        let _ = parse_domain_str(&mutate(&typed, &e1), "d.pddl");
        // Action costs: `:functions`, `increase`, `=` in `:init`, `:metric`.
        let roads = include_str!("data/roads-domain.pddl");
        let roads_problem = include_str!("data/roads.pddl");
        front_end(&mutate(roads, &e1), roads_problem);
        front_end(roads, &mutate(roads_problem, &e2));
    }

    #[test]
    fn mutated_plans_never_panic(e in edits()) {
        let d = parse_domain_str(&shipped("blocks/domain.pddl"), "d.pddl").unwrap();
        let p = parse_problem_str(&shipped("blocks/probBLOCKS-4-0.pddl"), "p.pddl").unwrap();
        let plan = "(pick-up b)\n(stack b a)\n(pick-up c)\n(stack c b)\n(pick-up d)\n(stack d c)\n";
        if let Ok(lines) = parse_plan_text(&mutate(plan, &e), "x.plan") {
            let calls: Vec<&str> = lines.iter().map(|l| l.call.as_str()).collect();
            let _ = validate_plan(&d, &p, &calls);
        }
        // With action costs (the validator sums them).
        let d = parse_domain_str(include_str!("data/roads-domain.pddl"), "d.pddl").unwrap();
        let p = parse_problem_str(include_str!("data/roads.pddl"), "p.pddl").unwrap();
        if let Ok(lines) = parse_plan_text(&mutate("(refuel)\n(drive a b)\n(drive b c)\n", &e), "x.plan") {
            let calls: Vec<&str> = lines.iter().map(|l| l.call.as_str()).collect();
            let _ = validate_plan(&d, &p, &calls);
        }
    }
}
