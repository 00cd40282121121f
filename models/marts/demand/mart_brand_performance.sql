{{ demand_ranking('brand', 'brand') }}
