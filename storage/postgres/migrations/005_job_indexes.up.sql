-- Number 005 belongs to the lifecycle jobs' indexes, which land in a change
-- of their own; this empty file keeps the numbering without a gap until
-- then, and gives way to that file when both are merged.
SELECT 1;
