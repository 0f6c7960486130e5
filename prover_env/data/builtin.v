(* prover-gym's built-in Coq theorems: small, fast, and provable with the standard library.
   Used by `ProverEnv/Coq-v0` when no theorems are passed, by `prover-gym demo` and in tests. *)
Require Import Arith ZArith Reals.
Open Scope R_scope.

Theorem add_zero_r : forall n : nat, (n + 0 = n)%nat.
Proof. Admitted.

Theorem add_comm_nat : forall a b : nat, (a + b = b + a)%nat.
Proof. Admitted.

Theorem double_le : forall n : nat, (n <= 2 * n)%nat.
Proof. Admitted.

Theorem z_square_nonneg : forall z : Z, (0 <= z * z)%Z.
Proof. Admitted.

Theorem r_linear_system : forall x y : R, x + y = 10 -> x - y = 2 -> x = 6.
Proof. Admitted.

Theorem r_square_nonneg : forall x : R, 0 <= x * x.
Proof. Admitted.

Theorem r_amgm_two : forall a b : R, 2 * a * b <= a * a + b * b.
Proof. Admitted.

Theorem and_swap : forall P Q : Prop, P /\ Q -> Q /\ P.
Proof. Admitted.
