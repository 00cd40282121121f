{{ demand_ranking('category_l1', 'category_l1') }}
