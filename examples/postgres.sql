CREATE TABLE IF NOT EXISTS public.orders (order_id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), ordered_at timestamptz);
CREATE TABLE IF NOT EXISTS public.order_loads (loaded_at timestamptz, orders bigint);
