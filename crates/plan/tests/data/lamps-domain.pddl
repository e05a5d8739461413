; Lamps switched by hands: `switch` names a lamp and a hand, and no fact names both, so its
; parameters split into two parts (crates/plan/src/split.rs). Two hands can switch two lamps in
; one step; while one of them is busy, one switch runs at a time.
(define (domain lamps)
  (:requirements :strips)
  (:predicates (off ?l) (on ?l) (free ?h) (used ?h))
  (:action switch
    :parameters (?l ?h)
    :precondition (and (off ?l) (free ?h))
    :effect (and (on ?l) (used ?h) (not (off ?l)) (not (free ?h))))
  (:action release
    :parameters (?h)
    :precondition (used ?h)
    :effect (and (free ?h) (not (used ?h)))))
