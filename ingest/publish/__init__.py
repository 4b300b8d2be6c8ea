"""What leaves the warehouse: the export to publication/, the audited query, the published marts'
reader, the disclosure check of what is published, the weekly bulletin."""
