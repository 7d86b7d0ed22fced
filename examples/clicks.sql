CREATE TABLE IF NOT EXISTS public.clicks (ts timestamptz NOT NULL, user_id bigint, url text);
