"""bracket_plugin: OCO / OTO / OTOCO linked orders for ccxt, and a backtrader broker for them."""
