{{ funnel_by_dimension('brand', 'brand') }}
