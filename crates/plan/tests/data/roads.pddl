(define (problem r) (:domain roads) (:objects a b c - place)
  (:init (at a) (road a b) (road b c) (road a c) (= (total-cost) 0)
         (= (road-length a b) 5) (= (road-length b c) 7) (= (road-length a c) 20))
  (:goal (at c)) (:metric minimize (total-cost)))
