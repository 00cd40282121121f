{{ demand_ranking('category_code', 'category_code') }}
