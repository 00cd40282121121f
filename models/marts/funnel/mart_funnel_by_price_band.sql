{{ funnel_by_dimension('price_band', 'price_band', extra_columns=['price_band_order']) }}
