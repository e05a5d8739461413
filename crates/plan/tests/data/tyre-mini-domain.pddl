; A small tyreworld-style domain, hand-written for the front end's tests (issue 19, item 4).
; As in IPC-1 tyreworld, the actions name the objects `wrench` and `jack` although the domain
; has no `:constants`: only the problem declares them. There is no `:requirements` section.
(define (domain tyre-mini)
  (:predicates (in-boot ?x) (have ?x) (wheel ?w) (hub ?h) (on ?w ?h) (free ?h)
               (tight ?h) (loose ?h) (on-ground ?h) (jacked ?h))
  (:action fetch
    :parameters (?x)
    :precondition (in-boot ?x)
    :effect (and (have ?x) (not (in-boot ?x))))
  (:action loosen
    :parameters (?h)
    :precondition (and (hub ?h) (have wrench) (tight ?h) (on-ground ?h))
    :effect (and (loose ?h) (not (tight ?h))))
  (:action jack-up
    :parameters (?h)
    :precondition (and (hub ?h) (have jack) (on-ground ?h))
    :effect (and (jacked ?h) (not (on-ground ?h)) (not (have jack))))
  (:action remove-wheel
    :parameters (?w ?h)
    :precondition (and (wheel ?w) (hub ?h) (jacked ?h) (loose ?h) (on ?w ?h))
    :effect (and (have ?w) (free ?h) (not (on ?w ?h))))
  (:action put-on-wheel
    :parameters (?w ?h)
    :precondition (and (wheel ?w) (hub ?h) (jacked ?h) (have ?w) (free ?h))
    :effect (and (on ?w ?h) (not (free ?h)) (not (have ?w)))))
