-- prover-gym's built-in Lean 4 theorems: core Lean only (no Mathlib), provable with `omega`,
-- `simp`, `exact`... Used by `ProverEnv/Lean-v0` when no theorems are passed.

theorem add_zero_nat (n : Nat) : n + 0 = n := by sorry

theorem add_comm_nat (a b : Nat) : a + b = b + a := by sorry

theorem double_le (n : Nat) : n ≤ 2 * n := by sorry

theorem and_swap (p q : Prop) (h : p ∧ q) : q ∧ p := by sorry

theorem lt_succ_self_nat (n : Nat) : n < n + 1 := by sorry
