; Change the flat wheel w1 for the spare r1. By hand: step 1 fetches the wrench, the jack and
; r1 (independent); the hub must be loosened while on the ground (step 2) before it is jacked
; up (step 3, which deletes `on-ground`); then w1 comes off (step 4) and r1 goes on (step 5,
; it needs the hub `free`). So Graphplan's first solvable level is 5, with 7 actions.
(define (problem tyre-mini-1)
  (:domain tyre-mini)
  (:objects wrench jack the-hub w1 r1)
  (:init (in-boot wrench) (in-boot jack) (in-boot r1) (wheel w1) (wheel r1) (hub the-hub)
         (on w1 the-hub) (tight the-hub) (on-ground the-hub))
  (:goal (on r1 the-hub)))
