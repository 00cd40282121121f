{{ funnel_by_dimension('category_l1', 'category_l1') }}
