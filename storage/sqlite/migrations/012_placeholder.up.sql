-- Placeholder: number 012 belongs to a change developed alongside this one.
-- Delete this file when that change is merged (its own 012_*.up.sql takes
-- the number); it exists so that 014 has no gap before it.
SELECT 1;
