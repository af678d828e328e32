-- An admin can disable an account: its sessions and keys end at once and it cannot sign in again
-- until an admin enables it.
ALTER TABLE "users" ADD COLUMN "disabled_at" TIMESTAMP(3);
