-- Sample rows for one demo tenant; $1 scales the amount. Runs with search_path set to the
-- tenant's schema.
WITH u AS (
    INSERT INTO tenant_users (email, display_name, user_class)
    SELECT 'user' || g || '@example.com', 'User ' || g,
           (ARRAY['admin', 'manager', 'user', 'user'])[1 + g % 4]
    FROM generate_series(1, greatest(3, $1 / 20)) g
    RETURNING id
), c AS (
    INSERT INTO customers (name, owner_user_id, notes)
    SELECT 'Customer ' || g, (SELECT min(id) FROM u) + g % greatest(3, $1 / 20),
           repeat('note ', g % 40)
    FROM generate_series(1, greatest(5, $1 / 4)) g
    RETURNING id
)
INSERT INTO orders (customer_id, placed_by, total_cents, status)
SELECT (SELECT min(id) FROM c) + g % greatest(5, $1 / 4), (SELECT min(id) FROM u),
       (g * 7919) % 100000, (ARRAY['open', 'paid', 'cancelled'])[1 + g % 3]
FROM generate_series(1, $1) g;
