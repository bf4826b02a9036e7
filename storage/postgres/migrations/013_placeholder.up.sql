-- Placeholder: number 013 belongs to a change developed alongside this one.
-- Delete this file when that change is merged (its own 013_*.up.sql takes
-- the number); it exists so that 014 has no gap before it.
SELECT 1;
